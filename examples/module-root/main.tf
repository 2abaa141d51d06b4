# A minimal root that calls drgen's module layout. Render the module next to this file first:
#   drgen render --layout module --config drgen.hcl --env-suffix prod --out drgen
# The root owns the backend and the providers; the regions must be the ones the module was
# rendered for (a postcondition in the module checks them).

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Your state backend, for example the bucket drgen's bootstrap root creates:
  #   terraform init -backend-config=backend.hcl
  backend "s3" {}
}

provider "aws" {
  alias  = "primary"
  region = "us-east-1"

  default_tags {
    tags = {
      Team = "trading-platform"
    }
  }
}

provider "aws" {
  alias  = "dr"
  region = "us-west-2"

  default_tags {
    tags = {
      Team = "trading-platform"
    }
  }
}

module "trading_db" {
  source = "./drgen"

  providers = {
    aws.primary = aws.primary
    aws.dr      = aws.dr
  }

  environment_suffix = "prod"
  tags = {
    Owner = "sre"
  }
}

output "writer_dns_name" {
  description = "The name applications connect to for writes."
  value       = module.trading_db.writer_dns_name
}
