#!/usr/bin/env bash
# A single-node Kubernetes from upstream Go modules, beside the Docker Engine (which it does not
# touch): `make kubernetes` runs `cluster.sh start` (CI too). Began as issue 16's spike; the
# proofs and measurements stay.
#
#   cluster.sh          build what is missing into the cache, start what is not running, wait for
#                       the node to be Ready, run the proofs, print the admin kubeconfig path
#   cluster.sh build    only the build (timed; cached in /var/cache/baeum/kubernetes/<version>/)
#   cluster.sh start    build + start + wait for Ready (no proofs); idempotent
#   cluster.sh proofs   the proofs against a running cluster
#   cluster.sh mem      RSS of each component
#   cluster.sh stop     stop everything this script started and remove its state (keeps the cache)
#
# SPIKE_NETPOL=kube-router (default) | kube-network-policies | 0 picks the NetworkPolicy enforcer.
# Needs root, Go (GOMAXPROCS=1 -p 1 builds under nice 19: a cold build takes 31-37 min on 2 cores),
# apt (etcd-server, containerd, runc, containernetworking-plugins, ipset, openssl), a Docker Engine
# with the baeum/lab image (imported into the cluster's own containerd) and gcc (the pause image).
#
# The cluster's own components run on the host as root processes; the pods they run are not
# privileged: every student namespace enforces Pod Security `restricted` (sandbox/kube.py).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.12}          # newest v1.34 the module proxy serves here
STAGING_VERSION=v0${K8S_VERSION#v1}           # v1.34.12 -> v0.34.12 (the published k8s.io/* modules)
ETCD_VERSION=${ETCD_VERSION:-v3.6.7}          # go.etcd.io/etcd/server/v3, used only if Debian's etcd is refused
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${BAEUM_K8S_CACHE:-/var/cache/baeum/kubernetes}/$K8S_VERSION
BIN=$CACHE/bin
STATE=/var/lib/baeum-k8s                      # etcd data, containerd root, kubelet root, certs
RUN=/run/baeum-k8s                            # sockets, pid files
LOGS=$STATE/logs
PKI=$STATE/pki
KUBECONFIG_ADMIN=$STATE/admin.kubeconfig
NODE_NAME=baeum-node
POD_CIDR=10.88.0.0/16                         # the node's pod range (bridge CNI, host-local IPAM)
SERVICE_CIDR=10.96.0.0/16
APISERVER_PORT=6443
ETCD_CLIENT=127.0.0.1:23790                   # not 2379: leave the usual port alone
ETCD_PEER=127.0.0.1:23800
CONTAINERD_SOCK=$RUN/containerd.sock
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1-baeum # built here, imported; never pulled
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# NetworkPolicy enforcer, SPIKE_NETPOL=kube-router | kube-network-policies | 0 (none).
# - kube-router (iptables + ipset, only its firewall): v2.1.0 is the only version the module proxy
#   serves here, and security flaws are reported for it: a spike may measure it, the product may
#   not ship it without reading those advisories.
# - SIG Network's kube-network-policies (nftables + nfqueue): cannot work on this VM, whose kernel
#   has no nft "queue" expression (CONFIG_NFT_QUEUE is not set): its every rule sync fails with
#   "netlink receive: no such file or directory" and no policy is enforced.
SPIKE_NETPOL=${SPIKE_NETPOL:-kube-router}
KUBE_ROUTER_MODULE=github.com/cloudnativelabs/kube-router/v2
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
KUBE_ROUTER_BIN=${BAEUM_K8S_CACHE:-/var/cache/baeum/kubernetes}/kube-router-$KUBE_ROUTER_VERSION/kube-router
NETPOL_MODULE=sigs.k8s.io/kube-network-policies
NETPOL_VERSION=${NETPOL_VERSION:-v0.8.0}
NETPOL_BIN=${BAEUM_K8S_CACHE:-/var/cache/baeum/kubernetes}/kube-network-policies-$NETPOL_VERSION/kube-network-policies

NICE=(nice -n 19 ionice -c3)                  # two cores, and a test suite runs beside us
log() { printf '[spike %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------------------------------- build
# The way projects that import k8s.io/kubernetes do: a go.mod that requires k8s.io/kubernetes at
# the release tag and replaces every k8s.io/* staging module (which kubernetes' own go.mod points
# at ./staging/src/..., a replace that is ignored in a dependency) with its published v0.x version.
write_gomod() {
  local src=$CACHE/src kgomod
  mkdir -p "$src"
  kgomod=$(cd "$src" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [ -f "$kgomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  {
    echo "module baeum.local/kubernetes-build"
    echo
    echo "go 1.25.0"
    echo
    echo "godebug default=go1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$kgomod"
    echo ")"
  } >"$src/go.mod"
  # go get fills go.sum with every module the six commands need (and records them as tools).
  local tools=()
  for c in "${COMPONENTS[@]}"; do tools+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION"); done
  (cd "$src" && GOFLAGS=-mod=mod "${NICE[@]}" go get -tool "${tools[@]}")
}

build_kubernetes() {
  local missing=() c
  for c in "${COMPONENTS[@]}"; do [ -x "$BIN/$c" ] || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && { log "kubernetes $K8S_VERSION: all binaries cached in $BIN"; return; }
  log "kubernetes $K8S_VERSION: building ${missing[*]} (GOMAXPROCS=1, -p 1, nice 19)"
  [ -f "$CACHE/src/go.mod" ] && grep -q "k8s.io/kubernetes $K8S_VERSION" "$CACHE/src/go.mod" || write_gomod
  mkdir -p "$BIN"
  local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version minor ld=""
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  for p in $pkg $cpkg; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${missing[@]}"; do
    log "  go build $c"
    (cd "$CACHE/src" && CGO_ENABLED=0 GOMAXPROCS=1 "${NICE[@]}" \
      go build -p 1 -trimpath -ldflags "-s -w $ld" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c") &&
      mv "$BIN/$c.tmp" "$BIN/$c" || die "go build $c"
  done
}

# Debian's parts: etcd, containerd (+ runc), the CNI plugins.
install_debs() {
  local missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v openssl >/dev/null || missing+=(openssl)
  [ "$SPIKE_NETPOL" != kube-router ] || command -v ipset >/dev/null || missing+=(ipset)
  [ ${#missing[@]} -eq 0 ] && return
  log "apt-get install ${missing[*]}"
  # no service may start on install: etcd-server's package would start one on 2379
  local made_policy=
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1; }
  DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
}

# The pause image: build/pause/linux/pause.c of the same k8s.io/kubernetes module, a static binary
# in an image FROM scratch (as upstream's Dockerfile), saved as a tar for `ctr images import`.
build_pause() {
  local tar=$CACHE/images/pause.tar src ctx
  [ -s "$tar" ] && return
  src=$(cd "$CACHE/src" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  ctx=$(mktemp -d)
  mkdir -p "$CACHE/images"
  gcc -Os -Wall -Werror -static -DVERSION=v3.10.1-baeum -o "$ctx/pause" "$src/build/pause/linux/pause.c"
  printf 'FROM scratch\nADD pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile"
  docker build -q -t "$PAUSE_IMAGE" "$ctx" >/dev/null
  docker save -o "$tar.tmp" "$PAUSE_IMAGE" && mv "$tar.tmp" "$tar"
  docker rmi "$PAUSE_IMAGE" >/dev/null            # the tar is the cache; the engine keeps nothing
  rm -rf "$ctx"
  log "pause image built: $tar"
}

# A network policy enforcer, built from its own module (its go.mod pins its own client-go):
# `go build` of one command package into the cache. Args: binary path, package, version, go line.
build_go_tool() {
  local bin=$1 pkg=$2 version=$3 go_line=$4
  [ -x "$bin" ] && return
  local dir; dir=$(dirname "$bin")
  mkdir -p "$dir/src"
  log "$pkg $version: building"
  if [ ! -f "$dir/src/go.mod" ]; then
    printf 'module baeum.local/%s-build\n\ngo %s\n' "$(basename "$bin")" "$go_line" >"$dir/src/go.mod"
    (cd "$dir/src" && GOFLAGS=-mod=mod "${NICE[@]}" go get -tool "$pkg@$version")
  fi
  (cd "$dir/src" && CGO_ENABLED=0 GOMAXPROCS=1 "${NICE[@]}" go build -p 1 -trimpath -ldflags "-s -w" \
    -o "$bin.tmp" "$pkg") && mv "$bin.tmp" "$bin" || die "go build $pkg"
}

build_netpol() { build_go_tool "$NETPOL_BIN" "$NETPOL_MODULE/cmd" "$NETPOL_VERSION" 1.23.0; }
build_kube_router() {
  build_go_tool "$KUBE_ROUTER_BIN" "$KUBE_ROUTER_MODULE/cmd/kube-router" "$KUBE_ROUTER_VERSION" 1.21
}

build() {
  install_debs
  build_kubernetes
  build_pause
  case $SPIKE_NETPOL in kube-router) build_kube_router ;; kube-network-policies) build_netpol ;; esac
}

# ----------------------------------------------------------------------------------------- pki
cert() {  # cert NAME CN O "SANS" client|server|both
  local name=$1 cn=$2 o=$3 sans=$4 usage=$5 eku subj="/CN=$2"
  [ -s "$PKI/$name.crt" ] && return
  [ -n "$o" ] && subj="/O=$o/CN=$cn"
  case $usage in client) eku=clientAuth ;; server) eku=serverAuth ;; *) eku=serverAuth,clientAuth ;; esac
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$sans" ] && echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

kubeconfig() {  # kubeconfig NAME CERTNAME
  local f=$STATE/$1.kubeconfig
  [ -s "$f" ] && return
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: baeum
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://$NODE_IP:$APISERVER_PORT
users:
- name: $1
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: $1@baeum
  context: { cluster: baeum, user: $1 }
current-context: $1@baeum
EOF
}

pki() {
  mkdir -p "$PKI" && chmod 700 "$PKI"
  if [ ! -s "$PKI/ca.crt" ]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -days 365 -sha256 \
      -subj "/CN=baeum-spike-ca" -out "$PKI/ca.crt" 2>/dev/null
  fi
  [ -s "$PKI/sa.key" ] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:${SERVICE_CIDR%.0/*}.1" server
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" client
  cert admin kubernetes-admin system:masters "" client
  cert controller-manager system:kube-controller-manager "" "" client
  cert scheduler system:kube-scheduler "" "" client
  cert kube-proxy system:kube-proxy "" "" client
  cert kubelet-client "system:node:$NODE_NAME" system:nodes "" client
  cert kubelet "$NODE_NAME" "" "DNS:$NODE_NAME,IP:$NODE_IP,IP:127.0.0.1" server
  kubeconfig admin admin
  kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler
  kubeconfig kube-proxy kube-proxy
  kubeconfig kubelet kubelet-client
}

# -------------------------------------------------------------------------------------- start
render() {  # render TEMPLATE OUT, rewriting OUT only when it changes (kube-proxy exits when its
            # config file is touched: "content of the proxy server's configuration file was updated")
  sed -e "s#@STATE@#$STATE#g" -e "s#@RUN@#$RUN#g" -e "s#@PKI@#$PKI#g" -e "s#@NODE_IP@#$NODE_IP#g" \
      -e "s#@NODE_NAME@#$NODE_NAME#g" -e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@PAUSE_IMAGE@#$PAUSE_IMAGE#g" \
      "$HERE/templates/$1" >"$2.new"
  if cmp -s "$2.new" "$2"; then rm -f "$2.new"; else mv "$2.new" "$2"; fi
}

# Pods reach each other, the host and (through kube-proxy's DNAT) Services, and nothing beyond:
# a packet from the pod range to any other address is dropped in mangle/FORWARD, which comes
# before every filter rule (Docker's, kube-proxy's, a policy enforcer's ACCEPTs), so a Service
# packet that kube-proxy did not (yet) translate cannot leave the machine.
egress_guard() {
  iptables -t mangle -N BAEUM-K8S-EGRESS 2>/dev/null || true
  iptables -t mangle -C BAEUM-K8S-EGRESS -s "$POD_CIDR" ! -d "$POD_CIDR" -j DROP 2>/dev/null ||
    iptables -t mangle -A BAEUM-K8S-EGRESS -s "$POD_CIDR" ! -d "$POD_CIDR" -j DROP
  iptables -t mangle -C FORWARD -j BAEUM-K8S-EGRESS 2>/dev/null || iptables -t mangle -I FORWARD 1 -j BAEUM-K8S-EGRESS
}

# Docker's own bridges keep their containers talking to each other. The cluster needs
# net.bridge.bridge-nf-call-iptables=1, which sends bridged frames through filter/FORWARD, where
# Docker allows a network's own traffic by one rule per bridge (-i br-X -o br-X -j ACCEPT) under
# a DROP policy. kube-router rewrites the whole filter table (iptables-save, edit,
# iptables-restore), so a rule Docker adds or deletes meanwhile is lost or comes back: a new
# network's rule lost is a terminal whose gate times out, a lab whose parts never answer. One rule
# in DOCKER-USER (the chain Docker leaves to us) accepts frames bridged within any br-* bridge,
# which is what those rules say (bridging never crosses bridges, so isolation between networks,
# which is routing, is unchanged). Added before kube-router starts and checked after.
docker_bridges_guard() {
  local rule=(-i br-+ -o br-+ -m physdev --physdev-is-bridged -j ACCEPT)
  iptables -N DOCKER-USER 2>/dev/null || true
  iptables -C DOCKER-USER "${rule[@]}" 2>/dev/null || iptables -I DOCKER-USER 1 "${rule[@]}"
}

running() { [ -s "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

launch() {  # launch NAME CMD...: detached, output to $LOGS/NAME.log, pid in $RUN/NAME.pid
  local name=$1; shift
  # One that runs with another command line (this script changed its flags) is restarted.
  if running "$name" && [ "$(cat "$RUN/$name.cmd" 2>/dev/null)" != "$*" ]; then
    log "$name runs with other flags: restarting it"
    stop_one "$name"
  fi
  running "$name" && return
  printf '%s' "$*" >"$RUN/$name.cmd"
  log "starting $name"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

wait_for() {  # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not answer within ${secs}s (see $LOGS/)"
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

save_host_settings() {
  # what the kubelet and kube-proxy may change on the host, to be put back by `stop`
  [ -s "$STATE/host-sysctls" ] && return
  sysctl -e vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet \
    net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward >"$STATE/host-sysctls"
  for d in /var/log/containers /var/log/pods /run/netns; do [ -e $d ] || echo "$d" >>"$STATE/host-created-dirs"; done
}

# baeum/kubectl: baeum/lab with this version's kubectl, the students' terminal image when a cluster
# is configured (sandbox/supervisor/kube_gate.py). Rebuilt when the version or baeum/lab changes.
terminal_image() {
  local lab want have ctx
  lab=$(docker image inspect -f '{{.Id}}' baeum/lab:latest)
  want="$K8S_VERSION $lab"
  have=$(docker image inspect -f '{{index .Config.Labels "baeum.kubectl"}}' baeum/kubectl:latest 2>/dev/null || true)
  [ "$have" = "$want" ] && return
  ctx=$(mktemp -d)
  cp "$BIN/kubectl" "$ctx/kubectl"
  printf 'FROM baeum/lab:latest\nCOPY kubectl /usr/bin/kubectl\nLABEL baeum.kubectl="%s"\n' "$want" >"$ctx/Dockerfile"
  docker build -q -t baeum/kubectl:latest "$ctx" >/dev/null
  rm -rf "$ctx"
  log "built baeum/kubectl (kubectl $K8S_VERSION on baeum/lab)"
}

# The lab images, from the engine into the cluster's containerd (never pulled: tagged ones run with
# the default IfNotPresent). Imported again when the engine's copy changed (a rebuild).
LAB_IMAGES=(baeum/lab:latest baeum/web:v1 baeum/web:v2 baeum/web:v2-broken)
import_lab_images() {
  local image id mark
  mkdir -p "$STATE/images"
  for image in "${LAB_IMAGES[@]}"; do
    id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || { log "no $image in the engine: not imported"; continue; }
    mark=$STATE/images/${image//[\/:]/_}.id
    if [ "$(cat "$mark" 2>/dev/null)" != "$id" ] ||
      ! ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -qx "docker.io/$image"; then
      docker save "$image" | ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null
      echo "$id" >"$mark"
      log "imported $image"
    fi
  done
  # The Docker CLI's shelf (make shelf), under the names students type: `--image=nginx` is
  # docker.io/library/nginx:latest to containerd (restricted-defaults.yaml: IfNotPresent).
  for name in debian nginx redis python busybox; do
    image=baeum/shelf-$name:latest
    [ "$name" = busybox ] && image=baeum/lab:latest
    id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || continue
    mark=$STATE/images/shelf-$name.id
    if [ "$(cat "$mark" 2>/dev/null)" != "$id" ] ||
      ! ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -qx "docker.io/library/$name:latest"; then
      docker save "$image" | ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null
      ctr --address "$CONTAINERD_SOCK" -n k8s.io images tag --force "docker.io/$image" "docker.io/library/$name:latest" >/dev/null
      echo "$id" >"$mark"
      log "imported $image as $name"
    fi
  done
}

start() {
  build
  terminal_image
  local t0=$SECONDS
  mkdir -p "$STATE" "$RUN" "$LOGS" "$STATE/cni/net.d" "$STATE/pod-logs"
  save_host_settings
  pki
  render containerd.toml "$STATE/containerd.toml"
  render cni.conflist "$STATE/cni/net.d/10-baeum.conflist"
  render kubelet.yaml "$STATE/kubelet.yaml"
  render kube-proxy.yaml "$STATE/kube-proxy.yaml"

  egress_guard
  docker_bridges_guard
  launch containerd containerd --config "$STATE/containerd.toml"
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
  if ! ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -qx "$PAUSE_IMAGE"; then
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$CACHE/images/pause.tar" >/dev/null
  fi
  import_lab_images

  launch etcd etcd --name baeum --data-dir "$STATE/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "baeum=http://$ETCD_PEER" --initial-cluster-state new
  wait_for etcd 30 curl -fsS "http://$ETCD_CLIENT/health"

  launch kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://$ETCD_CLIENT" \
    --advertise-address "$NODE_IP" --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=false --profiling=false \
    --feature-gates MutatingAdmissionPolicy=true --runtime-config admissionregistration.k8s.io/v1beta1=true
  wait_for kube-apiserver 120 kubectl_admin get --raw /readyz
  kubectl_admin apply -f "$HERE/templates/restricted-defaults.yaml" >/dev/null

  launch kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
  launch kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
  launch kubelet "$BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  launch kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy.yaml"

  log "waiting for node $NODE_NAME to be Ready"
  wait_for "node Ready" 180 kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  log "node $NODE_NAME Ready $((SECONDS - t0))s after start began"
  # The enforcer looks its node up once, at start, and exits if the kubelet has not registered it
  # yet ("failed to identify the node"): so only now, and it must still run a moment later.
  case $SPIKE_NETPOL in kube-router) start_kube_router ;; kube-network-policies) start_netpol ;; esac
  if [ "$SPIKE_NETPOL" != 0 ]; then
    sleep 3
    running "$SPIKE_NETPOL" || die "$SPIKE_NETPOL exited (see $LOGS/$SPIKE_NETPOL.log): NetworkPolicy would not be enforced"
  fi
  docker_bridges_guard # (a rule inserted during one of kube-router's rewrites is lost)
  kubectl_admin get nodes -o wide
}

# kube-network-policies knows only the in-cluster config (rest.InClusterConfig): on the host it gets
# a private mount namespace whose /run is a tmpfs holding its ServiceAccount's token, so nothing of
# that lands in the host's /run.
start_netpol() {
  running kube-network-policies && return
  kubectl_admin apply -f "$HERE/templates/netpol-rbac.yaml" >/dev/null
  kubectl_admin -n kube-system create token kube-network-policies --duration=24h >"$STATE/netpol.token"
  chmod 600 "$STATE/netpol.token"
  launch kube-network-policies unshare --mount --propagation private sh -c '
    mount -t tmpfs -o mode=0755,size=1m tmpfs /run &&
    d=/run/secrets/kubernetes.io/serviceaccount && mkdir -p $d &&
    cp "$1/netpol.token" $d/token && cp "$2/ca.crt" $d/ca.crt && echo kube-system >$d/namespace &&
    exec env KUBERNETES_SERVICE_HOST="$3" KUBERNETES_SERVICE_PORT="$4" "$5" \
      --hostname-override="$6" --disable-nri --metrics-bind-address=127.0.0.1:9080 --nfqueue-id=98 --v=2
  ' netpol "$STATE" "$PKI" "$NODE_IP" "$APISERVER_PORT" "$NETPOL_BIN" "$NODE_NAME"
}

# kube-router with only its firewall (network policy) controller: no routing, no service proxy.
start_kube_router() {
  running kube-router && return
  cert kube-router system:kube-router "" "" client
  kubeconfig kube-router kube-router
  kubectl_admin apply -f "$HERE/templates/kube-router-rbac.yaml" >/dev/null
  launch kube-router "$KUBE_ROUTER_BIN" --kubeconfig "$STATE/kube-router.kubeconfig" \
    --hostname-override "$NODE_NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
    --service-cluster-ip-range "$SERVICE_CIDR" --metrics-port 0 --health-port 20244 --v 1
}

# ------------------------------------------------------------------------------------- proofs
proofs() {
  local k=kubectl_admin old new
  log "proof: a Pod of baeum/lab in a namespace that enforces Pod Security restricted"
  # a new namespace's "default" ServiceAccount comes a moment after it: until then pods are refused
  local i
  for ((i = 0; i < 30; i++)); do $k apply -f "$HERE/templates/proofs.yaml" && break; sleep 1; done
  $k get ns spike --show-labels
  $k -n spike wait --for=condition=Ready pod/hello --timeout=120s
  $k -n spike logs hello
  log "proof: a privileged Pod is refused (--allow-privileged=false), a root Pod too (Pod Security)"
  local f
  for f in privileged-pod root-pod; do
    if $k apply -f "$HERE/templates/$f.yaml" >"$STATE/$f.out" 2>&1; then
      cat "$STATE/$f.out"; $k delete -f "$HERE/templates/$f.yaml" --wait=false; die "$f was admitted"
    fi
    cat "$STATE/$f.out"
    grep -qiE 'forbidden|violates PodSecurity' "$STATE/$f.out" || die "$f refused for another reason"
  done
  log "proof: kubectl exec"
  $k -n spike exec hello -- sh -c 'id; cat /proc/1/status | grep -E "^(CapEff|NoNewPrivs|Seccomp):"'
  log "proof: a Deployment of 3 replicas becomes 3/3"
  $k -n spike rollout status deployment/web --timeout=180s
  $k -n spike get deployment web
  log "proof: a deleted Pod is replaced"
  old=$($k -n spike get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
  $k -n spike delete pod "$old" --wait=true
  $k -n spike rollout status deployment/web --timeout=120s
  $k -n spike wait --for=condition=Available deployment/web --timeout=60s
  new=$($k -n spike get pods -l app=web -o jsonpath='{.items[*].metadata.name}')
  echo "deleted $old; pods now: $new"
  case " $new " in *" $old "*) die "$old still there" ;; esac
  [ "$($k -n spike get deployment web -o jsonpath='{.status.readyReplicas}')" = 3 ] || die "web is not 3/3 again"
  $k -n spike get pods -o wide
  log "proof: a killed container is restarted by the kubelet in the same Pod"
  local pod uid cid n
  pod=$($k -n spike get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
  uid=$($k -n spike get pod "$pod" -o jsonpath='{.metadata.uid}')
  n=$($k -n spike get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
  cid=$($k -n spike get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
  ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks kill -s SIGKILL "${cid#containerd://}"
  for ((i = 0; i < 60; i++)); do
    [ "$($k -n spike get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')" -gt "$n" ] && break
    sleep 1
  done
  $k -n spike wait --for=condition=Ready "pod/$pod" --timeout=60s
  [ "$($k -n spike get pod "$pod" -o jsonpath='{.metadata.uid}')" = "$uid" ] || die "$pod was replaced, not restarted"
  $k -n spike get pod "$pod"
  log "proof: the Service's ClusterIP answers from the pods (kube-proxy iptables)"
  running kube-proxy || die "kube-proxy is not running (see $LOGS/kube-proxy.log)"
  local ip; ip=$($k -n spike get svc web -o jsonpath='{.spec.clusterIP}')
  for i in 1 2 3 4 5 6; do $k -n spike exec hello -- wget -q -T 3 -O - "http://$ip/"; done
  [ "$SPIKE_NETPOL" = 0 ] || proof_netpol
  log "proofs passed"
}

proof_netpol() {
  local k=kubectl_admin ip
  log "proof: NetworkPolicy ($SPIKE_NETPOL) — deny all ingress to web, then allow from hello"
  ip=$($k -n spike get pods -l app=web -o jsonpath='{.items[0].status.podIP}')
  $k -n spike exec hello -- wget -q -T 3 -O - "http://$ip:8080/" || die "web pod $ip not reachable before any policy"
  $k apply -f "$HERE/templates/netpol-deny.yaml"
  sleep 2
  if $k -n spike exec hello -- wget -q -T 3 -O - "http://$ip:8080/"; then die "deny-all did not block $ip"; fi
  echo "blocked as expected"
  $k -n spike label pod hello role=client --overwrite
  $k apply -f "$HERE/templates/netpol-allow.yaml"
  sleep 2
  $k -n spike exec hello -- wget -q -T 3 -O - "http://$ip:8080/" || die "allow-from-client did not let hello through"
  $k -n spike delete networkpolicy --all
}

mem() {
  log "RSS (KiB) of each component"
  local n
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy containerd kube-network-policies kube-router; do
    if running "$n"; then ps -o rss=,cmd= -p "$(cat "$RUN/$n.pid")" | cut -c1-110; fi
  done
  echo "shims: $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" | xargs -r ps -o rss= -p | awk '{s+=$1;n++} END {print n" processes, "s" KiB"}')"
}

# --------------------------------------------------------------------------------------- stop
delete_chains() {  # iptables rules and chains named KUBE-* / CNI-* (ours: Docker uses neither)
  local ipt t chain
  for ipt in iptables ip6tables; do
    command -v $ipt >/dev/null || continue
    for t in filter nat mangle; do
      $ipt -t $t -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE-|CNI-)' | grep -vE '^-A (KUBE-|CNI-)' |
        sed 's/^-A/-D/' | while read -r rule; do eval "$ipt -t $t $rule" || true; done || true
      for chain in $($ipt -t $t -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}'); do
        $ipt -t $t -F "$chain" 2>/dev/null || true
      done
      for chain in $($ipt -t $t -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}'); do
        $ipt -t $t -X "$chain" 2>/dev/null || true
      done
    done
  done
}

stop_one() {
  local n=$1 pid i
  [ -s "$RUN/$n.pid" ] || return 0
  pid=$(cat "$RUN/$n.pid")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $n ($pid)"
    kill "$pid"
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$RUN/$n.pid"
}

stop() {
  if running kube-apiserver && running kubelet; then
    log "deleting the spike's namespace (the kubelet tears its pods' networks down)"
    kubectl_admin -n spike delete deployments,pods --all --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
    kubectl_admin delete ns spike --ignore-not-found --timeout=90s || true
  fi
  for n in kube-router kube-network-policies kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_one $n; done
  # what is left of the pods: their processes (kill only those in our kubelet's cgroups) and shims
  local f p
  for f in /sys/fs/cgroup/pids/kubepods/ /sys/fs/cgroup/memory/kubepods/; do
    [ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do kill -KILL "$p" || true; done
  stop_one containerd
  [ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  delete_chains
  iptables -D DOCKER-USER -i br-+ -o br-+ -m physdev --physdev-is-bridged -j ACCEPT 2>/dev/null || true
  for t in filter mangle; do
    iptables -t $t -D FORWARD -j BAEUM-K8S-EGRESS 2>/dev/null || true
    iptables -t $t -F BAEUM-K8S-EGRESS 2>/dev/null || true
    iptables -t $t -X BAEUM-K8S-EGRESS 2>/dev/null || true
  done
  # kube-router's ipsets (KUBE-SRC-*, KUBE-DST-*, kube-router-*), free once no rule uses them
  if command -v ipset >/dev/null; then
    for f in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)' || true); do ipset destroy "$f" 2>/dev/null || true; done
  fi
  for t in kube-network-policies kube-network-policies-dnscache; do nft delete table inet $t 2>/dev/null || true; done
  # mounts under our state (overlay rootfs, shm, projected volumes) and the pods' network namespaces
  awk '{print $2}' /proc/mounts | grep -E "^($STATE|$RUN)/" | sort -r | while read -r m; do umount -l "$m" || true; done
  for f in /run/netns/cni-*; do [ -e "$f" ] || continue; umount "$f" 2>/dev/null; rm -f "$f"; done
  ip link show baeum-cni0 >/dev/null 2>&1 && ip link delete baeum-cni0
  # the kubelet's cgroups (kubepods and its children, in every hierarchy)
  for f in /sys/fs/cgroup/*/kubepods; do
    [ -d "$f" ] && find "$f" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -s "$STATE/host-sysctls" ]; then
    sed 's/ = /=/' "$STATE/host-sysctls" | xargs -r sysctl -q -w || true
  fi
  # only if still empty of anything but ours (the kubelet's logs and symlinks, containerd's netns)
  if [ -s "$STATE/host-created-dirs" ]; then
    while read -r d; do
      case $d in /run/netns) rmdir "$d" 2>/dev/null || true ;; *) rm -rf "$d" ;; esac
    done <"$STATE/host-created-dirs"
  fi
  rm -rf "$STATE" "$RUN"
  log "stopped; state removed; the build cache stays in $CACHE"
}

NODE_IP=${NODE_IP:-$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="src") print $(i+1)}')}

case "${1:-all}" in
  build) time build ;;
  start) start; echo "admin kubeconfig: $KUBECONFIG_ADMIN" ;;
  proofs) proofs ;;
  mem) mem ;;
  stop) stop ;;
  all) start; proofs; mem; echo "admin kubeconfig: $KUBECONFIG_ADMIN" ;;
  *) die "unknown command $1 (build|start|proofs|mem|stop)" ;;
esac
