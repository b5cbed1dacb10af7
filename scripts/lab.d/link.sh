# Sourced by scripts/lab: shaping a host's link (link HOST ...). It uses the lab's helpers and variables defined there.
# shellcheck shell=bash

# Shapes the link between HOST and the bridge, in both directions: the root side of its veth
# carries what HOST receives, eth0 inside HOST what it sends. --delay MS is the round trip it adds
# (as ping shows it). With the kernel's netem, netem does all of it, half each way. Where netem is
# missing (these Firecracker kernels), the rate is shaped with tbf, loss with an iptables
# statistic match in HOST, and the delay by lab.d/delay.py: iptables hands every packet HOST
# receives on eth0 to a netfilter queue, and delay.py, in HOST's network namespace, releases each
# one after the whole round trip. Only on the way in: a packet HOST sends is still its socket's
# while a queue holds it, and TCP's small-queue limit then lets one or two out per delay (a
# stream moved next to nothing); the round trip TCP sees is the same either way.
loss_chain=FERRY-LAB-LOSS
delay_chain=FERRY-LAB-DELAY
delay_queue=7

delay_pidfile() { printf '%s/delay.pid\n' "$(host_state "$1")"; }

# Removes what cmd_link set up for the delay: the rules first (with --queue-bypass, packets then
# pass even while the queue still exists), then delay.py, once what it holds has left.
delay_clear() {
  local h=$1 ns pid us pidfile
  ns=$(host_netns "$h"); pidfile=$(delay_pidfile "$h")
  nsenter --net="$ns" -- iptables -w -t mangle -D PREROUTING -i eth0 -j "$delay_chain" 2>/dev/null || true
  nsenter --net="$ns" -- iptables -w -t mangle -F "$delay_chain" 2>/dev/null || true
  nsenter --net="$ns" -- iptables -w -t mangle -X "$delay_chain" 2>/dev/null || true
  if [[ -f $pidfile ]]; then
    read -r pid us <"$pidfile"
    sleep "$(awk -v us="${us:-0}" 'BEGIN { printf "%.3f", us / 1e6 + 0.1 }')"
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *delay.py* ]] && kill "$pid" 2>/dev/null
    rm -f "$pidfile"
  fi
  return 0
}

# Starts delay.py in HOST, holding packets for US microseconds, then sends eth0's incoming packets through it.
delay_start() {
  local h=$1 us=$2 ns log pid i
  ns=$(host_netns "$h"); log="$(host_state "$h")/delay.log"
  [[ -x /usr/bin/python3 ]] || die "link: a delay without netem needs python3 (scripts/setup-host installs it)"
  nsenter --net="$ns" -- setsid /usr/bin/python3 "$repo/scripts/lab.d/delay.py" "$delay_queue" "$us" </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid $us" >"$(delay_pidfile "$h")"
  for i in $(seq 50); do
    grep -q '^delay.py: queue' "$log" 2>/dev/null && break
    alive "$pid" || die "link: delay.py did not start in $h: $(cat "$log")"
    sleep 0.1
  done
  grep -q '^delay.py: queue' "$log" || die "link: delay.py did not bind its queue in $h within 5 s: $(cat "$log")"
  nsenter --net="$ns" -- iptables -w -t mangle -N "$delay_chain"
  nsenter --net="$ns" -- iptables -w -t mangle -A "$delay_chain" -j NFQUEUE --queue-num "$delay_queue" --queue-bypass
  nsenter --net="$ns" -- iptables -w -t mangle -I PREROUTING -i eth0 -j "$delay_chain"
}

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
  delay_clear "$h"
  if ((clear)); then
    log "$h: link shaping removed"
    return
  fi
  [[ $delay =~ ^[0-9]+$ ]] || die "link: --delay MS must be a whole number of milliseconds"
  [[ $rate =~ ^[0-9]+$ && $rate -gt 0 ]] || die "link: --rate MBIT must be a whole number of megabits per second"
  [[ -z $loss || $loss =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "link: --loss PCT must be a percentage"
  local half_us=$((delay * 500))
  if tc qdisc replace dev "$veth" root netem delay "${half_us}us" rate "${rate}mbit" limit 100000 2>/dev/null; then
    shaper=(netem delay "${half_us}us" rate "${rate}mbit" limit 100000)
    [[ -n $loss ]] && shaper+=(loss "${loss}%")
    tc qdisc replace dev "$veth" root "${shaper[@]}"
    in_host tc qdisc replace dev eth0 root "${shaper[@]}"
    log "$h: link shaped with netem: ${delay} ms round trip, ${rate} Mbit/s${loss:+, ${loss}% loss}"
    return
  fi
  # A token bucket of a few milliseconds' worth of bytes: the rate holds without long bursts.
  shaper=(tbf rate "${rate}mbit" burst "$((rate * 1000 / 8 * 4 + 16000))" latency 200ms)
  tc qdisc replace dev "$veth" root "${shaper[@]}"
  in_host tc qdisc replace dev eth0 root "${shaper[@]}"
  if [[ -n $loss ]]; then
    in_host iptables -w -N "$loss_chain"
    in_host iptables -w -A "$loss_chain" -m statistic --mode random --probability "$(awk -v p="$loss" 'BEGIN { printf "%.4f", p / 100 }')" -j DROP
    for chain in INPUT OUTPUT FORWARD; do in_host iptables -w -I "$chain" -j "$loss_chain"; done
  fi
  ((delay == 0)) || delay_start "$h" "$((delay * 1000))"
  log "$h: link shaped without netem: ${rate} Mbit/s (tbf)${loss:+, ${loss}% loss (iptables)}$( ((delay == 0)) || printf ', %s ms round trip (delay.py)' "$delay")"
}
