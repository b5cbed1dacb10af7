# scripts/lab, sourced: `up`, the lab's bridge, each host's namespaces, storage, images,
# certificates and inventory.
# shellcheck shell=bash


write_env() {
  mkdir -p "$lab_dir"
  cat >"$lab_env.tmp" <<EOF
LAB=$lab
SUBNET=$subnet
BOOT_ID=$(cat /proc/sys/kernel/random/boot_id)
HOSTS=$1
EOF
  [[ ${systemd_mode:-} != 1 ]] || printf 'SYSTEMD=1\n' >>"$lab_env.tmp"
  mv -f "$lab_env.tmp" "$lab_env"
}

check_subnet_free() {
  local dev other
  # Another interface holding an address in our /24 means another lab (or network) is there.
  dev=$(subnet_user "$subnet" "$bridge")
  [[ -z $dev ]] || die "subnet $subnet.0/24 is already used by interface $dev; pick another FERRY_LAB_SUBNET"
  for other in "$base"/*/lab.env; do
    [[ -f $other && $other != "$lab_env" ]] || continue
    if [[ $(sed -n 's/^SUBNET=//p' "$other") == "$subnet" ]]; then
      die "subnet $subnet is recorded by lab '$(sed -n 's/^LAB=//p' "$other")' ($other); pick another FERRY_LAB_SUBNET"
    fi
  done
}

setup_bridge() {
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  # Frames between lab hosts stay out of the root namespace's iptables and conntrack.
  ip link set "$bridge" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 2>/dev/null || true
  ip addr replace "$subnet.1/24" dev "$bridge"
  ip link set "$bridge" up
  fw_add
}

# True when the host's mount namespace shows its own state dirs at podman's paths.
mntns_ok() {
  local h=$1 s b want got
  s=$(host_state "$h")
  is_mounted "$(host_mntns "$h")" || return 1
  for b in "${binds[@]}"; do
    want=$(stat -c %d:%i "$s/${b%%:*}" 2>/dev/null) || return 1
    got=$(nsenter --mount="$(host_mntns "$h")" -- stat -c %d:%i "${b#*:}" 2>/dev/null) || return 1
    [[ $want == "$got" ]] || return 1
  done
  [[ $(nsenter --mount="$(host_mntns "$h")" -- findmnt -n -o SOURCE --mountpoint /run/netns 2>/dev/null) == ferry-lab-netns ]]
}

setup_mntns() {
  local h=$1 s mntns b script
  s=$(host_state "$h"); mntns=$(host_mntns "$h")
  is_mounted "$mntns" && return 0
  for b in "${binds[@]}"; do mkdir -p "$s/${b%%:*}" "${b#*:}"; done
  touch "$mntns"
  # A copy of the root mount table, slave: the root's later mounts show inside, the host's own
  # mounts (overlays, shm, container netns handles) never show outside.
  unshare --mount="$mntns" --propagation slave true
  script='umount -l '"$mnt_base"' 2>/dev/null || true'   # drop other hosts' handles: no ns loops
  if [[ $systemd_mode == 1 ]]; then
    sd_prepare "$h"
    script+=$'\n'"$(sd_mount_script "$h")"
  fi
  for b in "${binds[@]}"; do
    script+=$'\n'"mount --bind '$s/${b%%:*}' '${b#*:}'"
  done
  [[ $(host_podman_major "$h") != 5 ]] || script+=$'\n'"$(podman5_mount_script)"
  script+=$'\n''mount -t tmpfs -o mode=1777,nosuid,nodev ferry-lab-shm /dev/shm'
  # Container netns handles stay inside the host, and the host holds no copies of other hosts'.
  script+=$'\n''if mountpoint -q /run/netns; then umount -l /run/netns; fi'
  script+=$'\n''mkdir -p /run/netns && mount -t tmpfs -o mode=755,nosuid,nodev ferry-lab-netns /run/netns'
  nsenter --mount="$mntns" -- sh -ec "$script" || die "$h: could not set up its mount namespace"
}

setup_host() {
  local h=$1 ns veth ip s
  ns=$(host_ns "$h"); veth=$(host_veth "$h"); ip=$(host_ip "$h"); s=$(host_state "$h")
  if is_mounted "$(host_mntns "$h")" && ! mntns_ok "$h"; then
    log "$h: its mount namespace is not as expected; recreating the host"
    teardown_host "$h"
  fi
  mkdir -p "$s/agent"
  [[ -e $(host_netns "$h") ]] || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip -n "$ns" link del eth0 2>/dev/null || true
    ip link add "$veth" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$veth" master "$(site_bridge "$(host_site "$h")")" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr replace "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  site_route "$h"
  # Published ports DNAT from eth0 to the container bridge inside the host: that is forwarding.
  nsenter --net="$(host_netns "$h")" -- sysctl -qw net.ipv4.ip_forward=1
  setup_mntns "$h"
  write_default_network "$h"
  [[ $systemd_mode != 1 ]] || sd_boot "$h"
}

# Every host allocates container IPs from the same 10.88.0.0/16, starting at .2, so a container
# that keeps its IP (--tcp-established) would collide with the destination's own containers.
# Each host leases from its own slice (hostA 10.88.1.x, hostB 10.88.2.x, ...) of the one subnet:
# a migrated container's IP stays valid everywhere. Written before the first allocation, because
# podman continues from the IPAM db's lastIP even when it lies outside the lease range. A host of
# site 2 (--site) has 10.89.0.0/16 instead: the IP of a container from site 1 does not fit there.
write_default_network() {
  local h=$1 f i o
  f=$(host_state "$h")/netconf/podman.json
  [[ -f $f ]] && return 0
  i=$(($(host_index "$h") + 1))
  o=$(site_container_octet "$(host_site "$h")")   # 88; 89 on a host of site 2
  cat >"$f.tmp" <<EOF
{
  "name": "podman",
  "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
  "driver": "bridge",
  "network_interface": "podman0",
  "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "subnets": [
    { "subnet": "10.$o.0.0/16", "gateway": "10.$o.0.1",
      "lease_range": { "start_ip": "10.$o.$i.1", "end_ip": "10.$o.$i.254" } }
  ],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": { "driver": "host-local" }
}
EOF
  mv -f "$f.tmp" "$f"
}

load_images() {
  local h=$1 name archive id have
  while read -r name archive id; do
    have=$(host_podman "$h" image inspect --format '{{.Id}}' "localhost/ferry-lab/$name:latest" 2>/dev/null || true)
    [[ $have == "$id" ]] && continue
    host_podman "$h" load --quiet -i "$archive" >/dev/null || die "$h: podman load of $archive failed"
    log "$h: loaded localhost/ferry-lab/$name:latest"
  done <"$lab_dir/images.list"
}

# One container start per lab: catches a host configuration podman cannot run with.
smoke_test() {
  local h=$1 out
  if ! out=$(host_podman "$h" run --rm --network none localhost/ferry-lab/busybox true 2>&1); then
    log "$h: a test container does not start: $out"
    [[ $out == *rlimit* ]] && log "hint: default_ulimits in /etc/containers/containers.conf.d/ must not exceed what podman runs with (podman 4.3 lowers its own RLIMIT_NPROC to 32768)"
    die "podman cannot run containers on this machine"
  fi
}

# A CA for the lab, a certificate per host (its address as SAN) and one for the coordinator.
ensure_pki() {
  local h
  "$repo/bin/ferry" certs init --dir "$pki" >/dev/null
  for h in "$@"; do
    [[ -f $pki/$h.pem ]] || "$repo/bin/ferry" certs issue "$h" --role agent --dns "$h" --ip "$(host_ip "$h")" --dir "$pki" >/dev/null
  done
  [[ -f $pki/coordinator.pem ]] || "$repo/bin/ferry" certs issue coordinator --role coordinator --dir "$pki" >/dev/null
}

write_inventory() {
  local h s sep="" tmp=$inventory.tmp
  {
    printf '{\n  "lab": "%s",\n  "subnet": "%s.0/24",\n  "bridge": { "name": "%s", "address": "%s.1" },\n' \
      "$lab" "$subnet" "$bridge" "$subnet"
    printf '  "tls": { "dir": "%s", "name": "coordinator" },\n' "$pki"
    [[ $ssh_mode != 1 ]] || printf '  "knownHosts": "%s",\n' "$ssh_dir/known_hosts"
    printf '  "hosts": {\n'
    for h in "$@"; do
      s=$(host_state "$h")
      printf '%s    "%s": {\n' "$sep" "$h"
      printf '      "address": "%s",\n      "agent": "%s",\n' "$(host_ip "$h")" "$(agent_listen "$h")"
      ssh_inventory_fields "$h"
      printf '      "netns": "%s",\n      "mountns": "%s",\n      "stateDir": "%s",\n' \
        "$(host_netns "$h")" "$(host_mntns "$h")" "$s"
      printf '      "podman": { "root": "%s", "runroot": "%s", "tmpdir": "%s", "runtime": "runc" },\n' \
        "$podman_root" "$podman_runroot" "$podman_tmpdir"
      site_inventory_fields "$h"
      printf '      "disks": { "/srv": "%s/srv", "/var/lib/ferry-data": "%s/ferry-data" }\n    }' "$s" "$s"
      sep=$',\n'
    done
    printf '\n  }\n}\n'
  } >"$tmp"
  mv -f "$tmp" "$inventory"
}

cmd_up() {
  local n=2 agents=1 ssh_asked=0 systemd_asked=0 extra_images=${FERRY_LAB_IMAGES_EXTRA:-}
  local -a site_args=() podman_args=()
  while (($#)); do
    case $1 in
      --site) [[ -n ${2:-} ]] || die "--site needs HOST=SITE (e.g. hostC=2)"; site_args+=("$2"); shift 2 ;;
      --site=*) site_args+=("${1#--site=}"); shift ;;
      --hosts) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--hosts needs a number"; n=$2; shift 2 ;;
      --hosts=*) n=${1#--hosts=}; [[ $n =~ ^[0-9]+$ ]] || die "--hosts needs a number"; shift ;;
      --no-agents) agents=0; shift ;;
      --ssh) ssh_asked=1; shift ;;
      --systemd) systemd_asked=1; shift ;;
      --images) [[ -n ${2:-} ]] || die "--images needs NAME,... (e.g. mariadb,nginx)"; extra_images=$2; shift 2 ;;
      --images=*) extra_images=${1#--images=}; shift ;;
      --podman) [[ ${2:-} =~ ^host[A-Z]=(4|5)$ ]] || die "--podman needs HOST=5 (or HOST=4), e.g. hostC=5"; podman_args+=("$2"); shift 2 ;;
      --podman=*) [[ ${1#--podman=} =~ ^host[A-Z]=(4|5)$ ]] || die "--podman needs HOST=5 (or HOST=4), e.g. hostC=5"; podman_args+=("${1#--podman=}"); shift ;;
      *) die "up: unknown argument '$1' (usage: scripts/lab up [--hosts N] [--no-agents] [--site HOST=2] [--ssh] [--systemd] [--images NAME,...] [--podman HOST=5]...)" ;;
    esac
  done
  ((n >= 1 && n <= 26)) || die "--hosts must be between 1 and 26"
  local x
  for x in $(tr ',' ' ' <<<"$extra_images"); do
    [[ " ${extra_image_names[*]} " == *" $x "* ]] || die "--images: unknown image '$x' (${extra_image_names[*]})"
  done
  "$repo/scripts/setup-host"

  if [[ -f $lab_env ]]; then
    local want=${FERRY_LAB_SUBNET:-$subnet}
    [[ $want == "$subnet" ]] ||
      die "lab '$lab' exists with subnet $subnet; run 'FERRY_LAB=$lab scripts/lab down' before using $want"
    if [[ $(recorded BOOT_ID) != "$(cat /proc/sys/kernel/random/boot_id)" ]]; then
      log "lab '$lab' was made before the last boot; its state is stale, removing it"
      cmd_down
    fi
  fi
  subnet=${FERRY_LAB_SUBNET:-$subnet}
  valid_subnet "$subnet" || die "FERRY_LAB_SUBNET='$subnet' is not the first three octets of a /24 (e.g. 172.31.77)"
  check_subnet_free

  local -a hosts=()
  local i h
  for ((i = 0; i < n; i++)); do hosts+=("$(nth_host "$i")"); done
  local given_sites
  given_sites=$(parse_sites "${site_args[@]}")   # a bad --site stops here (set -e)
  sites_resolve "$given_sites" "${#site_args[@]}" "${hosts[*]}"
  [[ -z $sites ]] || site_check_subnet_free
  if [[ -n $(recorded HOSTS) && ${ssh_mode:-0} != "$ssh_asked" ]]; then
    die "lab '$lab' exists $([[ $ssh_mode == 1 ]] && echo with || echo without) --ssh; run 'FERRY_LAB=$lab scripts/lab down' first"
  fi
  ssh_mode=$ssh_asked
  if [[ -n $(recorded HOSTS) && ${systemd_mode:-0} != "$systemd_asked" ]]; then
    die "lab '$lab' exists $([[ $systemd_mode == 1 ]] && echo with || echo without) --systemd; run 'FERRY_LAB=$lab scripts/lab down' first"
  fi
  systemd_mode=$systemd_asked
  ((!(systemd_mode && ssh_mode))) || die "--systemd and --ssh together are not supported yet"
  local podman5_hosts a
  podman5_hosts=$(recorded PODMAN5 || true)
  for a in "${podman_args[@]}"; do
    [[ " ${hosts[*]} " == *" ${a%=*} "* ]] || die "--podman ${a}: the lab has no ${a%=*} (--hosts $n)"
    if [[ ${a#*=} == 5 ]]; then podman5_hosts+=" ${a%=*}"; fi
  done
  if [[ -n ${podman5_hosts// /} ]]; then
    ((!systemd_mode)) || die "--podman HOST=5 and --systemd together are not supported yet"
    podman5_kit_ensure
  fi
  write_env "${hosts[*]}"
  podman5_record "$(tr ' ' '\n' <<<"$podman5_hosts" | sort -u | tr '\n' ' ')"
  site_record
  ((ssh_mode)) && printf 'SSH=1\n' >>"$lab_env"

  setup_bridge
  [[ -z $sites ]] || site_setup
  mnt_base_ensure
  # The three base images always; opt-in ones on top (lab-images checks the names).
  local -a image_args=()
  [[ -z ${extra_images//[ ,]/} ]] || image_args=("${image_names[@]}" $(tr ',' ' ' <<<"$extra_images"))
  "$repo/scripts/lab-images" "${image_args[@]}" >"$lab_dir/images.list.tmp"
  mv -f "$lab_dir/images.list.tmp" "$lab_dir/images.list"

  for h in $(known_hosts); do
    [[ " ${hosts[*]} " == *" $h "* ]] || { log "removing $h (beyond --hosts $n)"; teardown_host "$h"; }
  done
  for h in "${hosts[@]}"; do setup_host "$h"; done
  # Each host has its own storage: load them side by side (the postgres image takes ~2 s a host).
  local -a loaders=()
  local failed=0 p
  for h in "${hosts[@]}"; do load_images "$h" & loaders+=($!); done
  for p in "${loaders[@]}"; do wait "$p" || failed=1; done
  ((!failed)) || die "loading the lab images failed (see above)"
  smoke_test "${hosts[0]}"
  ensure_pki "${hosts[@]}"
  if ((ssh_mode)); then
    ssh_keys "${hosts[@]}"
    for h in "${hosts[@]}"; do sshd_start "$h"; done
  fi
  if ((agents)); then
    for h in "${hosts[@]}"; do
      if agent_pid "$h" >/dev/null && agent_listening "$h"; then
        log "$h: agent $(agent_pid "$h") already running"
      else
        agent_start "$h"
      fi
    done
  fi
  write_inventory "${hosts[@]}"

  printf 'lab %s is up: bridge %s %s.1/24, inventory %s\n' "$lab" "$bridge" "$subnet" "$inventory"
  [[ -z $sites ]] || printf 'site 2: bridge %s %s.1/24, hosts %s, routed through the root namespace\n' \
    "$site2_bridge" "$site2_subnet" "$(printf '%s\n' $sites | sed 's/=.*//' | tr '\n' ' ' | sed 's/ $//')"
  for h in "${hosts[@]}"; do
    printf '  %-6s %-15s agent %s\n' "$h" "$(host_ip "$h")" \
      "$(if ((agents)); then echo "$(agent_listen "$h")$([[ $ssh_mode == 1 ]] && echo " (over ssh root@$(host_ip "$h"))")"; else echo "not started"; fi)"
  done
  printf 'images: %s\n' "$(awk '{printf "localhost/ferry-lab/%s ", $1}' "$lab_dir/images.list")"
  printf 'try:    scripts/lab podman hostA run -d --name r1 -p 6380:6379 localhost/ferry-lab/redis\n'
}
