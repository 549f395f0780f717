#!/usr/bin/env bash
# tokenpass behind real TLS-terminating proxies: Debian's nginx and HAProxy on 127.0.0.1
# terminate mTLS (the test CA of tests/data/tls) in front of proxied_service, nginx
# forwarding $ssl_client_escaped_cert, HAProxy `Client-Cert: :<base64 DER>:` (RFC 9440).
# The proxies reach the service from 127.0.0.2, the one address it trusts; the test's
# own direct calls come from 127.0.0.1. Usage: proxy_test.sh PROXIED_SERVICE TOKENPASS_CLI
set -euo pipefail

service_bin=$1
cli=$2
data="$(cd "$(dirname "$0")/../data/tls" && pwd)"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
check() {  # check WHAT WANT GOT
  if [ "$2" == "$3" ]; then
    echo "ok: $1"
  else
    echo "FAIL: $1: want [$2], got [$3]"
    failures=$((failures + 1))
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {  # wait_for_port PORT NAME
  for _ in $(seq 1 100); do
    if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "FAIL: $2 did not start"
  [ -f "$work/$2.log" ] && cat "$work/$2.log"
  exit 1
}

# The issuer's key, and tokens bound to the billing client's certificate.
"$cli" keygen --alg ES256 --kid proxy-test > "$work/issuer.jwk"
"$cli" pubkey "$work/issuer.jwk" > "$work/issuer.jwks"
thumbprint() {
  openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='
}
token_for() {  # token_for CERT
  printf '{"iss":"https://issuer.test","aud":"product","sub":"alice","cnf":{"x5t#S256":"%s"}}' "$(thumbprint "$1")" |
    "$cli" sign --key "$work/issuer.jwk" --ttl 300 -
}
billing_token=$(token_for "$data/client_billing.pem")
gateway_token=$(token_for "$data/client_gateway.pem")

# The service, trusting 127.0.0.2 only.
"$service_bin" "$work/issuer.jwks" 127.0.0.2/32 > "$work/service.out" 2> "$work/service.log" &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q listening "$work/service.out" 2>/dev/null && break
  sleep 0.1
done
service_port=$(awk '/listening/ {print $2}' "$work/service.out")
[ -n "$service_port" ] || { echo "FAIL: proxied_service did not start"; cat "$work/service.log"; exit 1; }

nginx_port=$(free_port)
haproxy_port=$(free_port)
cat "$data/server.pem" "$data/server.key" > "$work/server_bundle.pem"
mkdir -p "$work/nginx"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$work/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $data/server.pem;
    ssl_certificate_key $data/server.key;
    ssl_client_certificate $data/ca.pem;
    ssl_verify_client on;
    location / {
      proxy_pass http://127.0.0.1:$service_port;
      proxy_bind 127.0.0.2;
      # What the client sent under these names never reaches the service.
      proxy_set_header X-SSL-Client-Cert \$ssl_client_escaped_cert;
      proxy_set_header Client-Cert "";
      proxy_set_header Client-Cert-Chain "";
      proxy_set_header X-Forwarded-Client-Cert "";
    }
  }
}
EOF
nginx -e "$work/nginx.log" -p "$work/nginx" -c "$work/nginx.conf" -g "daemon off;" &
pids+=($!)

cat > "$work/haproxy.cfg" <<EOF
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend tls
  bind 127.0.0.1:$haproxy_port ssl crt $work/server_bundle.pem ca-file $data/ca.pem verify required
  http-request del-header X-SSL-Client-Cert
  http-request del-header X-Forwarded-Client-Cert
  http-request del-header Client-Cert-Chain
  http-request set-header Client-Cert :%[ssl_c_der,base64]:
  default_backend service
backend service
  server service 127.0.0.1:$service_port source 127.0.0.2
EOF
haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
pids+=($!)
wait_for_port "$nginx_port" nginx
wait_for_port "$haproxy_port" haproxy

call() {  # call URL CERT TOKEN [curl args...]: prints "STATUS BODY"
  local url=$1 cert=$2 token=$3
  shift 3
  curl -s --max-time 10 --cacert "$data/ca.pem" --cert "$data/$cert.pem" --key "$data/$cert.key" \
    -H "Authorization: Bearer $token" "$@" -w ' %{http_code}' "$url" || echo " curl-failed"
}
escaped_billing=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' \
  "$data/client_billing.pem")
der_billing=$(openssl x509 -in "$data/client_billing.pem" -outform DER | openssl base64 -A)

nginx_url="https://127.0.0.1:$nginx_port/nginx/whoami"
haproxy_url="https://127.0.0.1:$haproxy_port/haproxy/whoami"

check "nginx: bound token with its certificate" "spiffe://shop/billing 200" \
  "$(call "$nginx_url" client_billing "$billing_token")"
check "nginx: bound token with another client's certificate (not on the route's list)" \
  '{"error":"peer_not_allowed"} 403' "$(call "$nginx_url" client_gateway "$billing_token")"
check "nginx: the gateway's own token on a billing-only route" '{"error":"peer_not_allowed"} 403' \
  "$(call "$nginx_url" client_gateway "$gateway_token")"
check "nginx: a client's own X-SSL-Client-Cert is replaced by the proxy" '{"error":"peer_not_allowed"} 403' \
  "$(call "$nginx_url" client_gateway "$billing_token" -H "X-SSL-Client-Cert: $escaped_billing")"
rogue=$(call "$nginx_url" rogue_client "$billing_token")
check "nginx: a certificate from another CA never reaches the service" "no" \
  "$(case "$rogue" in *200) echo yes ;; *) echo no ;; esac)"

check "haproxy: bound token with its certificate" "spiffe://shop/billing 200" \
  "$(call "$haproxy_url" client_billing "$billing_token")"
check "haproxy: bound token with another certificate" '{"error":"bad_binding"} 401' \
  "$(call "$haproxy_url" client_gateway "$billing_token")"
check "haproxy: each token with its own certificate" "spiffe://shop/gateway 200" \
  "$(call "$haproxy_url" client_gateway "$gateway_token")"
check "haproxy: a client's own Client-Cert is replaced by the proxy" '{"error":"bad_binding"} 401' \
  "$(call "$haproxy_url" client_gateway "$billing_token" -H "Client-Cert: :$der_billing:")"

# Around the proxies, straight to the service from 127.0.0.1: the headers are refused.
direct() {  # direct PATH HEADER
  curl -s --max-time 10 -H "Authorization: Bearer $billing_token" -H "$2" -w ' %{http_code}' \
    "http://127.0.0.1:$service_port$1" || echo " curl-failed"
}
check "direct: X-SSL-Client-Cert refused" '{"error":"untrusted_forward"} 403' \
  "$(direct /nginx/whoami "X-SSL-Client-Cert: $escaped_billing")"
check "direct: Client-Cert refused" '{"error":"untrusted_forward"} 403' \
  "$(direct /haproxy/whoami "Client-Cert: :$der_billing:")"
check "direct: X-Forwarded-Client-Cert refused" '{"error":"untrusted_forward"} 403' \
  "$(direct /haproxy/whoami "X-Forwarded-Client-Cert: Hash=$(openssl x509 -in "$data/client_billing.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-64)")"
check "direct: no header, no certificate: the bound token is refused" '{"error":"bad_binding"} 401' \
  "$(curl -s --max-time 10 -H "Authorization: Bearer $billing_token" -w ' %{http_code}' "http://127.0.0.1:$service_port/haproxy/whoami")"

if [ "$failures" -ne 0 ]; then
  echo "proxy_test: $failures failed"
  echo "--- nginx log"; cat "$work/nginx.log" || true
  echo "--- haproxy log"; cat "$work/haproxy.log" || true
  exit 1
fi
echo "proxy_test: all passed"
