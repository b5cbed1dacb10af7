# scripts/lab, sourced: `down`, and the teardown of a host, which never fails (it also runs on
# half-made labs).
# shellcheck shell=bash


unmount_under() {
  local dir=$1 m pass
  local -a mounts
  for pass in 1 2 3; do
    mapfile -t mounts < <(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    ((${#mounts[@]})) || return 0
    for m in "${mounts[@]}"; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
}

mounted_under() { awk -v d="$1/" 'index($5, d) == 1 {f = 1} END {exit !f}' /proc/self/mountinfo; }

teardown_host() {
  local h=$1 s netns mntns veth pid id
  s=$(host_state "$h"); netns=$(host_netns "$h"); mntns=$(host_mntns "$h"); veth=$(host_veth "$h")
  agent_stop "$h" --kill >/dev/null 2>&1 || true
  if [[ $systemd_mode == 1 ]]; then
    # Containers go while the host runs (podman there sees its own PIDs); then PID 1, and with it
    # every process of the host.
    if sd_pid1 "$h" >/dev/null; then
      host_nsenter "$h"
      timeout 120 "${nsenter_cmd[@]}" podman "${podman_flags[@]}" pod rm -af -t 0 >/dev/null 2>&1
      timeout 120 "${nsenter_cmd[@]}" podman "${podman_flags[@]}" rm -af -t 0 >/dev/null 2>&1 ||
        log "$h: podman rm -af failed; its processes die with its PID namespace"
    fi
    sd_kill "$h"
  fi
  if is_mounted "$mntns" && [[ $systemd_mode == 1 ]]; then
    for pid in $(pids_in_ns mnt "$mntns") $(pids_in_ns net "$netns"); do
      kill -KILL "$pid" 2>/dev/null
    done
    umount "$mntns" 2>/dev/null || umount -l "$mntns" 2>/dev/null
  elif is_mounted "$mntns"; then
    # netavark must tear container networks down inside a host, never in the root namespace.
    [[ -e $netns ]] || ip netns add "$(host_ns "$h")" 2>/dev/null || true
    timeout 120 nsenter --net="$netns" --mount="$mntns" -- podman "${podman_flags[@]}" pod rm -af -t 0 >/dev/null 2>&1
    timeout 120 nsenter --net="$netns" --mount="$mntns" -- podman "${podman_flags[@]}" rm -af -t 0 >/dev/null 2>&1 ||
      log "$h: podman rm -af failed; removing what is left by hand"
    # Containers podman could not remove, by their runc state (per host: /run/runc is ours).
    for id in $(nsenter --mount="$mntns" -- runc list -q 2>/dev/null); do
      nsenter --mount="$mntns" -- runc kill -a "$id" KILL 2>/dev/null
      nsenter --mount="$mntns" -- runc delete -f "$id" 2>/dev/null
    done
    # conmon, aardvark-dns, anything started with `lab exec`: they keep the namespaces alive.
    for pid in $(pids_in_ns mnt "$mntns") $(pids_in_ns net "$netns"); do
      kill -KILL "$pid" 2>/dev/null
    done
    # The last reference goes with the handle; the kernel then drops every mount inside.
    umount "$mntns" 2>/dev/null || umount -l "$mntns" 2>/dev/null
  elif [[ -e $netns ]]; then
    for pid in $(pids_in_ns net "$netns"); do kill -KILL "$pid" 2>/dev/null; done
  fi
  rm -f "$mntns"
  if [[ -d $s ]]; then
    for pid in $(pgrep -f -- "$s/" 2>/dev/null); do
      [[ $pid == "$$" ]] || kill -KILL "$pid" 2>/dev/null
    done
    unmount_under "$s"
  fi
  ip link del "$veth" 2>/dev/null
  ip netns del "$(host_ns "$h")" 2>/dev/null
  [[ $systemd_mode != 1 ]] || sd_cg_remove "$h" 2>/dev/null
  if [[ -d $s ]] && mounted_under "$s"; then
    log "$h: kept $s: still mounted under it:"
    awk -v d="$s/" 'index($5, d) == 1 {print "  " $5}' /proc/self/mountinfo >&2
  else
    rm -rf "$s"
  fi
  return 0
}

fw_rules() {
  printf '%s\n' "INPUT -i $bridge -m comment --comment ferry-lab:$lab -j ACCEPT" \
                "FORWARD -i $bridge -o $bridge -m comment --comment ferry-lab:$lab -j ACCEPT"
}

fw_add() {
  command -v iptables >/dev/null || return 0
  local rule
  while read -r rule; do
    # shellcheck disable=SC2086
    iptables -C $rule 2>/dev/null || iptables -I $rule
  done < <(fw_rules)
}

fw_del() {
  command -v iptables >/dev/null || return 0
  local rule i
  while read -r rule; do
    # shellcheck disable=SC2086
    for ((i = 0; i < 10; i++)); do iptables -D $rule 2>/dev/null || break; done
  done < <(fw_rules)
}

# The handle directory is a private mount (unshare --mount=FILE needs that); shared by all labs.
mnt_base_lock() { exec 7>/run/lock/ferry-lab.lock; flock -w 60 7; }
mnt_base_ensure() {
  mnt_base_lock
  mkdir -p "$mnt_base/$lab"
  is_mounted "$mnt_base" || mount --bind "$mnt_base" "$mnt_base"
  mount --make-private "$mnt_base"
  exec 7>&-
}
mnt_base_release() {
  mnt_base_lock
  rmdir "$mnt_base/$lab" 2>/dev/null
  if [[ -d $mnt_base && -z $(ls -A "$mnt_base" 2>/dev/null) ]]; then
    umount "$mnt_base" 2>/dev/null
    rmdir "$mnt_base" 2>/dev/null
  fi
  exec 7>&-
}

cmd_down() {
  need_root
  set +e
  local h
  for h in $(known_hosts); do
    log "removing $h"
    teardown_host "$h"
  done
  # Veths whose namespace is already gone.
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
    grep -E "^$lab-v[a-z]$" | while read -r v; do ip link del "$v" 2>/dev/null; done
  ip link del "$bridge" 2>/dev/null
  fw_del
  sd_cg_remove_lab
  site_teardown
  mnt_base_release
  if [[ -d $lab_dir ]]; then
    unmount_under "$lab_dir"
    if mounted_under "$lab_dir"; then
      log "kept $lab_dir: something is still mounted under it"
    else
      rm -rf "$lab_dir"
    fi
  fi
  set -e
  log "lab '$lab' is down"
}
