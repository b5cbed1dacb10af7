# Sourced by scripts/lab: hosts whose agents only SSH reaches (up --ssh). It uses the lab's helpers and variables defined there.
# shellcheck shell=bash

# --- SSH: hosts whose agents only SSH reaches (up --ssh) ---------------------------------------
# With --ssh every host runs its own sshd (Debian's openssh-server) on its address, port 22, and
# its agent listens on 127.0.0.1 only: from outside the host, SSH is the only way in, as in a
# datacenter whose agent ports are firewalled. The lab makes one key for the coordinator and one
# per agent (an agent dials its peers with its own key), lets all of them in as root, and records
# every host's key in one known_hosts file that the inventory ("knownHosts") and the agents
# (--known-hosts) use. `up` records SSH=1 in lab.env; agent-start keeps the mode.
ssh_dir=$lab_dir/ssh
ssh_mode=$(recorded SSH || true)

ssh_host_dir() { printf '%s/ssh\n' "$(host_state "$1")"; }
agent_listen() { if [[ $ssh_mode == 1 ]]; then printf '127.0.0.1:%d\n' "$agent_port"; else printf '%s:%d\n' "$(host_ip "$1")" "$agent_port"; fi; }

# Whether HOST's agent accepts connections where it listens (on 127.0.0.1, only HOST can tell).
agent_listening() {
  if [[ $ssh_mode == 1 ]]; then
    nsenter --net="$(host_netns "$1")" -- timeout 1 bash -c ">/dev/tcp/127.0.0.1/$agent_port" 2>/dev/null
  else
    port_open "$(host_ip "$1")" "$agent_port"
  fi
}

# The agent's SSH flags in SSH mode: its host's address, its own key, the lab's known_hosts.
agent_ssh_flags() {
  [[ $ssh_mode == 1 ]] || return 0
  printf '%s\n' --address "$(host_ip "$1")" --ssh-identity "$(ssh_host_dir "$1")/id_ed25519" --known-hosts "$ssh_dir/known_hosts"
}

ssh_keys() {
  local h d
  mkdir -p "$ssh_dir"
  [[ -f $ssh_dir/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "ferry-lab-$lab-coordinator" -f "$ssh_dir/id_ed25519"
  cat "$ssh_dir/id_ed25519.pub" >"$ssh_dir/authorized_keys.tmp"
  : >"$ssh_dir/known_hosts.tmp"
  for h in "$@"; do
    d=$(ssh_host_dir "$h")
    mkdir -p "$d"
    [[ -f $d/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$d/ssh_host_ed25519_key"
    [[ -f $d/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "ferry-lab-$lab-$h-agent" -f "$d/id_ed25519"
    cat "$d/id_ed25519.pub" >>"$ssh_dir/authorized_keys.tmp"
    printf '%s %s\n' "$(host_ip "$h")" "$(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" >>"$ssh_dir/known_hosts.tmp"
  done
  chmod 600 "$ssh_dir/authorized_keys.tmp"
  mv -f "$ssh_dir/authorized_keys.tmp" "$ssh_dir/authorized_keys"
  mv -f "$ssh_dir/known_hosts.tmp" "$ssh_dir/known_hosts"
}

# The inventory's "ssh" of HOST in SSH mode: the coordinator logs in as root with the lab's key.
ssh_inventory_fields() {
  [[ $ssh_mode == 1 ]] || return 0
  printf '      "ssh": { "host": "%s", "port": 22, "user": "root", "identity": "%s" },\n' "$(host_ip "$1")" "$ssh_dir/id_ed25519"
}

sshd_pid() {
  local pid
  pid=$(cat "$(ssh_host_dir "$1")/sshd.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && printf '%s\n' "$pid"
}

sshd_start() {
  local h=$1 d ip i
  d=$(ssh_host_dir "$h"); ip=$(host_ip "$h")
  sshd_pid "$h" >/dev/null && return 0
  printf '%s\n' "# Written by ferry scripts/lab for $h of lab $lab" \
    "ListenAddress $ip:22" "HostKey $d/ssh_host_ed25519_key" "PidFile $d/sshd.pid" \
    "AuthorizedKeysFile $ssh_dir/authorized_keys" "PermitRootLogin prohibit-password" \
    "PasswordAuthentication no" "KbdInteractiveAuthentication no" "UsePAM no" \
    "AllowTcpForwarding yes" "StrictModes no" "PrintMotd no" "Subsystem sftp internal-sftp" >"$d/sshd_config"
  # scp speaks SFTP (OpenSSH 9): internal-sftp serves it. sshd's privilege separation directory
  # is the root's /run/sshd, which the hosts share.
  mkdir -p /run/sshd
  nsenter --net="$(host_netns "$h")" --mount="$(host_mntns "$h")" -- /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log" ||
    die "$h: sshd did not start (see $d/sshd.log)"
  for ((i = 0; i < 50; i++)); do
    if port_open "$ip" 22; then
      log "$h: sshd $(sshd_pid "$h" || true) listening on $ip:22"
      return 0
    fi
    sleep 0.1
  done
  die "$h: sshd does not accept on $ip:22 (see $d/sshd.log)"
}
