# Sourced by scripts/lab: a host's power cycle (reboot HOST). It uses the lab's helpers and variables defined there.
# shellcheck shell=bash

# --- reboot: a host's power cycle, its disks kept ------------------------------------------------
# Every process of the host dies at once (containers, conmon, its agent, its sshd), its runtime
# state under /run goes (podman's runroot and tmpdir, netavark's IPAM, runc's state, /dev/shm,
# container network namespaces), its network namespace loses what podman and netavark made in it
# (bridges, veths, firewall rules, conntrack), and its disks stay: podman's storage, /srv,
# /var/lib/ferry-data and the agent's state. podman sees its tmpdir empty and does what it does
# after a real boot (it refreshes every container's state). Then sshd (in an SSH lab) and the
# agent start again, as a boot would start them.
# Kills every process of the host, undoes the mounts its containers made and empties its /run.
# conmon starts `podman container cleanup` as containers die, and those may write there once more:
# the caller repeats this until the runtime directories stay empty.
reboot_wipe() {
  local h=$1 s mntns netns pid b i id
  s=$(host_state "$h"); mntns=$(host_mntns "$h"); netns=$(host_netns "$h")
  # A power cut takes everything at once: the agent goes first, so that it never sees a process
  # of its host die and acts on it (a hook that failed, a container that exited).
  agent_stop "$h" --kill >/dev/null 2>&1 || true
  for pid in $(pids_in_ns mnt "$mntns") $(pids_in_ns net "$netns"); do kill -KILL "$pid" 2>/dev/null || true; done
  # Then the containers. Their processes have namespaces of their own, not the host's, so they
  # are found by their cgroups, named after the containers runc runs in this host (its /run/runc
  # is the host's runc/ dir); left alive, each would outlive the lab.
  for id in $(ls "$s/runc" 2>/dev/null); do
    for pid in $(cat /sys/fs/cgroup/*/libpod_parent/libpod-"$id"/cgroup.procs /sys/fs/cgroup/libpod_parent/libpod-"$id"/cgroup.procs 2>/dev/null | sort -u); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  for ((i = 0; i < 50; i++)); do
    [[ -z $(pids_in_ns mnt "$mntns")$(pids_in_ns net "$netns") ]] && break
    sleep 0.1
  done
  # Inside the host: the mounts its containers made (rootfs overlays, their shm, netns handles)
  # go, then the tmpfs ones are made anew. Only mounts below the host's own state mounts: those
  # (the lab's binds of podman's paths) must stay, or the host would fall through to the root's.
  nsenter --mount="$mntns" -- sh -c '
    for m in $(awk '"'"'{print $5}'"'"' /proc/self/mountinfo | grep -E "^(/var/lib/containers/storage|/run/containers/storage|/run/containers/networks|/run/libpod|/run/runc|/run/netns)/." | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    umount -l /dev/shm 2>/dev/null; mount -t tmpfs -o mode=1777,nosuid,nodev ferry-lab-shm /dev/shm
    umount -l /run/netns 2>/dev/null; mkdir -p /run/netns && mount -t tmpfs -o mode=755,nosuid,nodev ferry-lab-netns /run/netns
  ' || die "$h: could not undo its mounts"
  for b in runroot tmp networks runc; do
    [[ -d $s/$b ]] && find "$s/$b" -mindepth 1 -delete 2>/dev/null || true
  done
}

runtime_empty() {
  local s b
  s=$(host_state "$1")
  for b in runroot tmp networks runc; do
    [[ -z $(find "$s/$b" -mindepth 1 -print -quit 2>/dev/null) ]] || return 1
  done
}

cmd_reboot() {
  local h=$1 s netns link attempt b
  s=$(host_state "$h"); netns=$(host_netns "$h")
  log "$h: rebooting (every process killed, /run wiped, disks kept)"
  if [[ $systemd_mode == 1 ]]; then
    sd_power_off "$h"   # lab.d/systemd.sh: PID 1 killed, the mount namespace made anew
  else
    for attempt in 1 2 3 4 5; do
      reboot_wipe "$h"
      runtime_empty "$h" && break
      ((attempt < 5)) || die "$h: its /run directories do not stay empty: $(find "$s/runroot" "$s/tmp" "$s/networks" "$s/runc" -mindepth 1 2>/dev/null | head -3 | tr '\n' ' ')"
      sleep 0.5
    done
    # The host's own view of podman's paths must have survived: never the root namespace's.
    mntns_ok "$h" || die "$h: after the reboot its mount namespace does not show its own state dirs at podman's paths"
  fi
  rm -f "$s/agent.pid"
  # What podman and netavark made in the host's network: gone with the boot. (A veth may go
  # with its peer while this runs: each step is best effort.)
  for link in $(ip -n "$(host_ns "$h")" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -vxE 'lo|eth0' || true); do
    ip -n "$(host_ns "$h")" link del "$link" 2>/dev/null || true
  done
  nsenter --net="$netns" -- nft flush ruleset 2>/dev/null || true
  for b in filter nat mangle raw; do
    nsenter --net="$netns" -- iptables -w -t "$b" -F 2>/dev/null || true
    nsenter --net="$netns" -- iptables -w -t "$b" -X 2>/dev/null || true
  done
  nsenter --net="$netns" -- conntrack -F >/dev/null 2>&1 || true
  nsenter --net="$netns" -- sysctl -qw net.ipv4.ip_forward=1
  if [[ $ssh_mode == 1 ]]; then
    rm -f "$(ssh_host_dir "$h")/sshd.pid"
    sshd_start "$h"
  fi
  if [[ $systemd_mode == 1 ]]; then
    # systemd starts what is enabled in the host, its agent among them.
    sd_boot "$h"
    sd_agent_wait "$h"
  else
    agent_start "$h"
  fi
  log "$h: up again"
}
