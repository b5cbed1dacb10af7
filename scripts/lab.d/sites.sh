# Sourced by scripts/lab: a second datacenter (up --site HOST=2). It uses the lab's helpers and variables defined there.
# shellcheck shell=bash

# --- sites: a second datacenter (up --site HOST=2) ----------------------------------------------
# Site 1 is the lab's bridge and /24, as without --site. A host of site 2 sits on a second bridge,
# "<lab>-b2" (15 characters at most, as "<lab>-br"), with its own /24 (FERRY_LAB_SITE2_SUBNET;
# default: the lab's third octet + 100, e.g. 172.31.177) and its own container subnet (10.89.0.0/16
# where site 1 has 10.88.0.0/16), so a container that keeps its IP does not fit there. The root
# namespace holds both bridges' .1 and routes between them (iptables ACCEPT rules tagged with the
# lab's comment); every host of a lab with sites has a default route via its bridge's .1, so the
# published ports of each site answer the other site's hosts and the root namespace. `up` records
# the sites in lab.env (SITES, SITE2_SUBNET); every later command reads them from there.
sites=$(recorded SITES || true)                 # "hostC=2 hostD=2": the hosts of site 2
site2_subnet=$(recorded SITE2_SUBNET || true)
ip_forward_set=$(recorded IP_FORWARD_SET || true)   # 1: `up` turned forwarding on, `down` turns it off
site2_bridge=$lab-b2

host_site() {
  local s
  s=$(printf '%s\n' $sites | sed -n "s/^$1=//p" | head -1)
  printf '%s\n' "${s:-1}"
}
site_subnet() { if [[ $1 == 2 ]]; then printf '%s\n' "$site2_subnet"; else printf '%s\n' "$subnet"; fi; }
site_bridge() { if [[ $1 == 2 ]]; then printf '%s\n' "$site2_bridge"; else printf '%s\n' "$bridge"; fi; }
# The second octet of a site's container subnet: 10.88.0.0/16 for site 1, 10.89.0.0/16 for site 2.
site_container_octet() { printf '%d\n' $((87 + $1)); }

# --site HOST=2[,HOST=2...] (repeatable) as the sorted "HOST=2 ..." list that lab.env records;
# site 1 is the default and is not recorded.
parse_sites() {
  local arg pair h s
  local -a out=()
  for arg in "$@"; do
    for pair in ${arg//,/ }; do
      [[ $pair =~ ^(host[A-Z])=([12])$ ]] || die "--site takes HOST=SITE with SITE 1 or 2 (e.g. --site hostC=2), not '$pair'"
      h=${BASH_REMATCH[1]}; s=${BASH_REMATCH[2]}
      out=("${out[@]/#$h=*/}")
      ((s == 1)) || out+=("$h=$s")
    done
  done
  ((${#out[@]})) || return 0
  printf '%s\n' "${out[@]}" | { grep -v '^$' || true; } | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# Settles the sites of `up`: the ones recorded win; --site may only repeat them.
sites_resolve() {
  local given=$1 asked=$2 hosts=$3 pair want
  if [[ -f $lab_env && -n $(recorded HOSTS) ]]; then
    [[ -z $asked || $given == "$sites" ]] ||
      die "lab '$lab' exists with sites '${sites:-none}'; run 'FERRY_LAB=$lab scripts/lab down' before using --site $given"
  else
    sites=$given
  fi
  for pair in $sites; do
    [[ " $hosts " == *" ${pair%=*} "* ]] || die "--site ${pair}: the lab has no host ${pair%=*} (hosts: $hosts)"
  done
  [[ -n $sites ]] || return 0
  want=${FERRY_LAB_SITE2_SUBNET:-$site2_subnet}
  if [[ -z $want ]]; then
    ((${subnet##*.} + 100 <= 255)) || die "no default second-site subnet for $subnet; set FERRY_LAB_SITE2_SUBNET"
    want=${subnet%.*}.$((${subnet##*.} + 100))
  fi
  [[ -z $site2_subnet || $want == "$site2_subnet" ]] ||
    die "lab '$lab' exists with site 2 on $site2_subnet; run 'FERRY_LAB=$lab scripts/lab down' before using $want"
  site2_subnet=$want
  valid_subnet "$site2_subnet" || die "FERRY_LAB_SITE2_SUBNET='$site2_subnet' is not the first three octets of a /24 (e.g. 172.31.177)"
  [[ $site2_subnet != "$subnet" ]] || die "site 2 needs a subnet of its own, not the lab's $subnet"
}

site_check_subnet_free() {
  local dev other
  dev=$(subnet_user "$site2_subnet" "$site2_bridge")
  [[ -z $dev ]] || die "subnet $site2_subnet.0/24 is already used by interface $dev; pick another FERRY_LAB_SITE2_SUBNET"
  for other in "$base"/*/lab.env; do
    [[ -f $other && $other != "$lab_env" ]] || continue
    if grep -qxE "(SUBNET|SITE2_SUBNET)=($site2_subnet|$subnet)" "$other"; then
      die "subnet $site2_subnet or $subnet is recorded by lab '$(sed -n 's/^LAB=//p' "$other")' ($other); pick other subnets"
    fi
  done
}

# Appended to lab.env after write_env: what later commands need to know of the sites.
site_record() {
  [[ -n $sites ]] || return 0
  printf 'SITES=%s\nSITE2_SUBNET=%s\n' "$sites" "$site2_subnet" >>"$lab_env"
  [[ -z $ip_forward_set ]] || printf 'IP_FORWARD_SET=%s\n' "$ip_forward_set" >>"$lab_env"
}

site_fw_rules() {
  local tag="-m comment --comment ferry-lab:$lab -j ACCEPT"
  printf '%s\n' "INPUT -i $site2_bridge $tag" "FORWARD -i $site2_bridge -o $site2_bridge $tag" \
    "FORWARD -i $bridge -o $site2_bridge $tag" "FORWARD -i $site2_bridge -o $bridge $tag"
}

# The second bridge, routing between the bridges in the root namespace, and its firewall rules.
site_setup() {
  local rule
  ip link show "$site2_bridge" >/dev/null 2>&1 || ip link add "$site2_bridge" type bridge
  ip link set "$site2_bridge" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 2>/dev/null || true
  ip addr replace "$site2_subnet.1/24" dev "$site2_bridge"
  ip link set "$site2_bridge" up
  if [[ $(sysctl -n net.ipv4.ip_forward) != 1 ]]; then
    sysctl -qw net.ipv4.ip_forward=1
    ip_forward_set=1
    printf 'IP_FORWARD_SET=1\n' >>"$lab_env"
    log "turned on IPv4 forwarding in the root namespace (down turns it off again)"
  fi
  command -v iptables >/dev/null || return 0
  while read -r rule; do
    # shellcheck disable=SC2086
    iptables -w -C $rule 2>/dev/null || iptables -w -I $rule
  done < <(site_fw_rules)
}

# A host of a lab with sites reaches the other site through its bridge's .1.
site_route() {
  [[ -n $sites ]] || return 0
  ip -n "$(host_ns "$1")" route replace default via "$(site_subnet "$(host_site "$1")").1" dev eth0
}

# For `down`: the second bridge, and every rule tagged with the lab's comment (also when lab.env is
# gone); forwarding goes off again if `up` turned it on and no other lab with sites remains.
site_teardown() {
  local rule other
  ip link del "$site2_bridge" 2>/dev/null
  if command -v iptables >/dev/null; then
    iptables -w -S 2>/dev/null | grep -E -- "--comment \"?ferry-lab:$lab\"? " | sed 's/^-A //; s/"//g' |
      while read -r rule; do
        # shellcheck disable=SC2086
        iptables -w -D $rule 2>/dev/null
      done
  fi
  if [[ $ip_forward_set == 1 ]]; then
    for other in "$base"/*/lab.env; do
      [[ -f $other && $other != "$lab_env" ]] && grep -q '^SITES=' "$other" && return 0
    done
    sysctl -qw net.ipv4.ip_forward=0
    log "turned IPv4 forwarding in the root namespace off again"
  fi
  return 0
}

# Lines of the inventory entry of a host, in a lab with sites.
site_inventory_fields() {
  [[ -n $sites ]] || return 0
  local site; site=$(host_site "$1")
  printf '      "site": %d,\n      "subnet": "%s.0/24",\n      "containerSubnet": "10.%d.0.0/16",\n' \
    "$site" "$(site_subnet "$site")" "$(site_container_octet "$site")"
}
