#!/bin/sh
# Serves / and /healthz on port 8080 from a tmpfs (the root filesystem is read-only).
if [ "$WEB_VERSION" = "v2-broken" ]; then
  echo "web v2: 설정 파일이 없어서 시작하지 못했어요" >&2
  exit 1
fi
mkdir -p /tmp/www
echo "web $WEB_VERSION · $(hostname)" > /tmp/www/index.html
echo ok > /tmp/www/healthz
echo "web $WEB_VERSION listening on :8080"
exec httpd -f -p 8080 -h /tmp/www
