# moto in server mode on 127.0.0.1, and an environment in which the AWS CLI and Terraform
# reach nothing else. Sourced by tests/backend_switch.sh.
#
#   moto_start LOG   starts the server on a free port, waits for it (bounded), exports
#                    MOTO_ENDPOINT and the isolating environment
#   moto_reset       forgets every resource (moto's own reset API)
#   moto_stop        stops the server this file started (by its process id)

moto_pid=""

moto_start() {
  local log=$1 port="" _
  # Port 0: the kernel picks a free port, and the server prints it once it listens.
  moto_server -H 127.0.0.1 -p 0 >"$log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's|.*Running on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$moto_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "moto_server did not start within 10 s:" >&2
    cat "$log" >&2
    return 1
  fi
  export MOTO_ENDPOINT="http://127.0.0.1:$port"

  # Every AWS SDK call, Terraform's S3 backend (STS, S3, DynamoDB) and the AWS CLI alike,
  # goes to moto: AWS_ENDPOINT_URL is the SDKs' global endpoint setting. Anything that still
  # tried the network would meet a proxy that does not exist (port 9 on loopback) and fail.
  # https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
  local v
  for v in $(compgen -e | grep '^AWS_ENDPOINT_URL_'); do unset "$v"; done
  unset AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
  export AWS_ENDPOINT_URL=$MOTO_ENDPOINT
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
  export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
  unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_WORKSPACE
}

moto_reset() {
  python3 -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/moto-api/reset", method="POST"), timeout=10)' \
    "$MOTO_ENDPOINT"
}

moto_stop() {
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    moto_pid=""
  fi
}
