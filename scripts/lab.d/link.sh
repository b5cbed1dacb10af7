# Sourced by scripts/lab: shaping a host's link (link HOST ...). It uses the lab's helpers and variables defined there.
# shellcheck shell=bash

# Shapes the link between HOST and the bridge, in both directions: the root side of its veth
# carries what HOST receives, eth0 inside HOST what it sends. Delay needs the kernel's netem;
# where it is missing (these Firecracker kernels), rate is shaped with tbf and loss with an
# iptables statistic match in HOST, and a delay is refused with a clear error.
loss_chain=FERRY-LAB-LOSS

cmd_link() {
  local h=$1 delay=0 rate='' loss='' clear=0 veth ns shaper=() chain
  shift
  while (($#)); do
    case $1 in
      --delay) delay=${2:-}; shift 2 || die "link: --delay needs a value" ;;
      --rate) rate=${2:-}; shift 2 || die "link: --rate needs a value" ;;
      --loss) loss=${2:-}; shift 2 || die "link: --loss needs a value" ;;
      --clear) clear=1; shift ;;
      *) die "link: unknown option '$1' (see scripts/lab --help)" ;;
    esac
  done
  veth=$(host_veth "$h"); ns=$(host_netns "$h")
  in_host() { nsenter --net="$ns" -- "$@"; }
  tc qdisc del dev "$veth" root 2>/dev/null || true
  in_host tc qdisc del dev eth0 root 2>/dev/null || true
  for chain in INPUT OUTPUT FORWARD; do
    while in_host iptables -w -D "$chain" -j "$loss_chain" 2>/dev/null; do :; done
  done
  in_host iptables -w -F "$loss_chain" 2>/dev/null || true
  in_host iptables -w -X "$loss_chain" 2>/dev/null || true
  if ((clear)); then
    log "$h: link shaping removed"
    return
  fi
  [[ $delay =~ ^[0-9]+$ ]] || die "link: --delay MS must be a whole number of milliseconds"
  [[ $rate =~ ^[0-9]+$ && $rate -gt 0 ]] || die "link: --rate MBIT must be a whole number of megabits per second"
  [[ -z $loss || $loss =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "link: --loss PCT must be a percentage"
  if tc qdisc replace dev "$veth" root netem delay "${delay}ms" rate "${rate}mbit" limit 100000 2>/dev/null; then
    shaper=(netem delay "${delay}ms" rate "${rate}mbit" limit 100000)
    [[ -n $loss ]] && shaper+=(loss "${loss}%")
    tc qdisc replace dev "$veth" root "${shaper[@]}"
    in_host tc qdisc replace dev eth0 root "${shaper[@]}"
    log "$h: link shaped with netem: ${delay} ms each way, ${rate} Mbit/s${loss:+, ${loss}% loss}"
    return
  fi
  ((delay == 0)) || die "link: this kernel has no netem (sch_netem), so a delay cannot be shaped here; --delay 0 shapes rate and loss without it"
  # A token bucket of a few milliseconds' worth of bytes: the rate holds without long bursts.
  shaper=(tbf rate "${rate}mbit" burst "$((rate * 1000 / 8 * 4 + 16000))" latency 200ms)
  tc qdisc replace dev "$veth" root "${shaper[@]}"
  in_host tc qdisc replace dev eth0 root "${shaper[@]}"
  if [[ -n $loss ]]; then
    in_host iptables -w -N "$loss_chain"
    in_host iptables -w -A "$loss_chain" -m statistic --mode random --probability "$(awk -v p="$loss" 'BEGIN { printf "%.4f", p / 100 }')" -j DROP
    for chain in INPUT OUTPUT FORWARD; do in_host iptables -w -I "$chain" -j "$loss_chain"; done
  fi
  log "$h: link shaped with tbf: ${rate} Mbit/s${loss:+, ${loss}% loss (iptables)} (no netem here: no delay)"
}
