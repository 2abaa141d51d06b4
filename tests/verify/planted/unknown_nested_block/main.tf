resource "aws_s3_bucket" "planted" {
  bucket = "planted"

  no_such_block {}
}
