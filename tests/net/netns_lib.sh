# Two network namespaces ("hosts" A and B) joined by N veth pairs rail0..railN-1, each shaped to
# a real link rate with tc, plus an unshaped "ctl" pair for the rendezvous store. Source it, then
# call rails_setup N. Everything lives inside the two namespaces (names carry this shell's pid,
# so parallel runs never clash) and rails_cleanup, installed as an EXIT trap, deletes them.
#
#   A: ctl 10.76.0.1/24, railK 10.77.K.1/24        B: ctl 10.76.0.2/24, railK 10.77.K.2/24

RAILS_NS_A="railccA$$"
RAILS_NS_B="railccB$$"
RAILS_RATE="${RAILS_RATE:-1gbit}"
# Bucket and queue of the shaper: a bucket well above one GSO segment (64 KiB), a queue of a few
# milliseconds at 1 Gbit/s, as on a switch port.
RAILS_TBF="burst 256kb latency 5ms"

# Exit code ctest reads as "skipped" (SKIP_RETURN_CODE).
RAILS_SKIP=77

rails_require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root to create network namespaces and veth rails (run as root; CI does)"
    exit $RAILS_SKIP
  fi
  if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
    echo "SKIP: needs iproute2 (ip, tc)"
    exit $RAILS_SKIP
  fi
  if ! ip netns add "railccprobe$$" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces here (no CAP_SYS_ADMIN or no netns support)"
    exit $RAILS_SKIP
  fi
  ip netns del "railccprobe$$"
}

rails_cleanup() {
  # Deleting a namespace destroys the veth ends inside it, and with them their peers.
  ip netns del "$RAILS_NS_A" 2>/dev/null || true
  ip netns del "$RAILS_NS_B" 2>/dev/null || true
}

# rails_setup N: creates the namespaces, the ctl pair and N shaped rails.
rails_setup() {
  local n=$1 k
  trap rails_cleanup EXIT
  trap 'exit 130' INT TERM
  ip netns add "$RAILS_NS_A"
  ip netns add "$RAILS_NS_B"
  ip -n "$RAILS_NS_A" link set lo up
  ip -n "$RAILS_NS_B" link set lo up
  ip link add ctl netns "$RAILS_NS_A" type veth peer name ctl netns "$RAILS_NS_B"
  ip -n "$RAILS_NS_A" addr add 10.76.0.1/24 dev ctl
  ip -n "$RAILS_NS_B" addr add 10.76.0.2/24 dev ctl
  ip -n "$RAILS_NS_A" link set ctl up
  ip -n "$RAILS_NS_B" link set ctl up
  for ((k = 0; k < n; k++)); do
    ip link add "rail$k" netns "$RAILS_NS_A" type veth peer name "rail$k" netns "$RAILS_NS_B"
    ip -n "$RAILS_NS_A" addr add "10.77.$k.1/24" dev "rail$k"
    ip -n "$RAILS_NS_B" addr add "10.77.$k.2/24" dev "rail$k"
    ip -n "$RAILS_NS_A" link set "rail$k" up
    ip -n "$RAILS_NS_B" link set "rail$k" up
    rails_shape "$k" "$RAILS_RATE" add
  done
  rails_wait_up "$n"
}

# rails_wait_up N: the kernel reports a new link up only after its link-watch delay (up to ~1 s).
rails_wait_up() {
  local n=$1 k ns tries
  for ((k = 0; k < n; k++)); do
    for ns in "$RAILS_NS_A" "$RAILS_NS_B"; do
      for ((tries = 0; tries < 50; tries++)); do
        [ "$(ip netns exec "$ns" cat "/sys/class/net/rail$k/operstate")" = up ] && break
        sleep 0.1
      done
    done
  done
}

# rails_shape K RATE [add|change]: shapes both directions of rail K.
rails_shape() {
  local k=$1 rate=$2 verb=${3:-change} ns
  for ns in "$RAILS_NS_A" "$RAILS_NS_B"; do
    # shellcheck disable=SC2086
    ip netns exec "$ns" tc qdisc "$verb" dev "rail$k" root tbf rate "$rate" $RAILS_TBF
  done
}

# rails_list N: "rail0,rail1,...".
rails_list() {
  local n=$1 k out=""
  for ((k = 0; k < n; k++)); do out+="${out:+,}rail$k"; done
  echo "$out"
}

# rails_rank NS RANK SIZE PORT RAILS cmd...: runs one rank of a job inside NS. Rank 0 (in A)
# serves the rendezvous store on the ctl link, torchrun style. Ranks in one namespace share
# memory (shm); ranks in different namespaces are different hosts and use the rails.
rails_rank() {
  local ns=$1 rank=$2 size=$3 port=$4 rails=$5
  shift 5
  local ctl_ip=10.76.0.1
  [ "$ns" = "$RAILS_NS_B" ] && ctl_ip=10.76.0.2
  ip netns exec "$ns" env -u RAILCC_RANK -u RAILCC_WORLD_SIZE -u RAILCC_STORE_ADDR \
    RANK="$rank" WORLD_SIZE="$size" MASTER_ADDR=10.76.0.1 MASTER_PORT="$port" \
    RAILCC_SOCKET_ADDR="$ctl_ip" RAILCC_RAILS="$rails" "$@"
}

# A free-looking port for the store, different per run.
rails_port() { echo $((20000 + ($$ % 20000))); }
