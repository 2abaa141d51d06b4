"""The state backend that bootstrap/ creates, stood up in moto, and S3 replication played by hand.

    python3 account.py create                  both buckets (versioned) and the lock table
    python3 account.py replicate               the state object, state bucket -> DR bucket
    python3 account.py expect primary=v2 dr=v1 which state each bucket holds, else exit 1
    python3 account.py digest primary|dr       the digest item of a bucket's state, or "none"

The names come from the environment, as tests/backend_switch.sh reads them from the rendered
backend.tf and backend-dr.hcl; every call goes to AWS_ENDPOINT_URL (moto). One process does a
whole step, because starting Python with boto3 costs about a second.
"""

import json
import os
import sys

import boto3

BUCKET = os.environ["STATE_BUCKET"]
KEY = os.environ["STATE_KEY"]
REGION = os.environ["STATE_REGION"]
DR_BUCKET = os.environ["DR_STATE_BUCKET"]
DR_REGION = os.environ["DR_STATE_REGION"]
DR_KMS_ALIAS = os.environ["DR_STATE_KMS_ALIAS"]
TABLE = os.environ["LOCK_TABLE"]

SIDES = {"primary": (BUCKET, REGION), "dr": (DR_BUCKET, DR_REGION)}


def s3(region):
    return boto3.client("s3", region_name=region)


def create():
    """Both buckets versioned, as bootstrap/state.tf makes them, and the lock table in both regions.

    bootstrap/ makes the table a global table with a DR replica. moto does not replicate items
    between regions, and nothing here needs it: Terraform reads each digest item in the region
    that wrote it (`<bucket>/<key>-md5` names the bucket, and a bucket has one region).
    """
    s3(REGION).create_bucket(Bucket=BUCKET)
    s3(DR_REGION).create_bucket(Bucket=DR_BUCKET, CreateBucketConfiguration={"LocationConstraint": DR_REGION})
    for bucket, region in SIDES.values():
        s3(region).put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for region in (REGION, DR_REGION):
        boto3.client("dynamodb", region_name=region).create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )


def replicate():
    """What the rendered replication rule does, which moto does not: copy the newest version of
    the state object to the DR bucket, re-encrypted with the DR state key (replica_kms_key_id).
    It never copies the other way.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html
    """
    body = s3(REGION).get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    s3(DR_REGION).put_object(
        Bucket=DR_BUCKET,
        Key=KEY,
        Body=body,
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=DR_KMS_ALIAS,
    )


def held(side):
    """The input of the root's one terraform_data resource in a bucket's state object."""
    bucket, region = SIDES[side]
    state = json.loads(s3(region).get_object(Bucket=bucket, Key=KEY)["Body"].read())
    (resource,) = [r for r in state["resources"] if r["type"] == "terraform_data"]
    return resource["instances"][0]["attributes"]["input"]["value"]


def expect(pairs):
    wrong = []
    for pair in pairs:
        side, want = pair.split("=", 1)
        got = held(side)
        if got != want:
            wrong.append(f"the {side} state holds {got}, not {want}")
    if wrong:
        sys.exit("; ".join(wrong))


def digest(side):
    bucket, region = SIDES[side]
    item = boto3.client("dynamodb", region_name=region).get_item(
        TableName=TABLE, Key={"LockID": {"S": f"{bucket}/{KEY}-md5"}}, ConsistentRead=True
    )
    print(item.get("Item", {}).get("Digest", {}).get("S", "none"))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "create" and not args:
        create()
    elif command == "replicate" and not args:
        replicate()
    elif command == "expect" and args:
        expect(args)
    elif command == "digest" and len(args) == 1:
        digest(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
