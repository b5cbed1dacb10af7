# Sourced by scripts/lab: hosts whose init is systemd (up --systemd). It uses the lab's helpers and variables defined there.
# shellcheck shell=bash

# --- systemd hosts (up --systemd) ----------------------------------------------------------------
# Each host boots /lib/systemd/systemd --system as PID 1 of its own PID namespace, in its network
# and mount namespaces plus its own cgroup, UTS and IPC namespaces. The host's cgroup is
# ferry-lab-<lab>-<host> at the root of every hierarchy of the machine (v1 controllers,
# name=systemd, unified); inside, cgroupfs is mounted anew so systemd sees that cgroup as its root.
# What systemd must not share with the machine is the host's own: /run and /tmp (tmpfs, gone at a
# reboot), and on its "disk" (state dir, sd/) /var/tmp, /etc/systemd/system (empty but for the
# masks below and what is installed in the host), /var/lib/systemd, /var/log/journal,
# /etc/machine-id, /etc/hostname and /etc/tmpfiles.d (the machine's tmpfiles entries, kept only
# for paths that are the host's own). PID 1 raises fs.file-max and fs.nr_open, the machine's: those
# two are read-only in the host. (Not all of /proc/sys: CRIU's restore writes the container's
# UTS and IPC sysctls, kernel.hostname among them, through it.)
# Commands run as a host (exec, podman, the agent) enter its PID namespace too, through PID 1.
# The agent is the host's systemd service ferry-lab-agent.service (KillMode=process, enabled, so a
# reboot brings it back); agent.pid holds its pid as the machine sees it. `up` records SYSTEMD=1.
systemd_mode=$(recorded SYSTEMD || true)
sd_bin=/lib/systemd/systemd
sd_boot_wait_s=60
sd_agent_unit=ferry-lab-agent.service
nsenter_cmd=()   # set by host_nsenter

# Units that would act on the machine (kernel settings, modules, devices, /etc, utmp, consoles).
sd_masked=(systemd-sysctl.service systemd-modules-load.service kmod-static-nodes.service
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
  systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service
  systemd-tmpfiles-setup-dev.service systemd-sysusers.service systemd-firstboot.service
  systemd-machine-id-commit.service systemd-random-seed.service systemd-remount-fs.service
  systemd-fsck-root.service systemd-repart.service systemd-pcrphase.service
  systemd-pcrphase-sysinit.service systemd-update-utmp.service systemd-update-utmp-runlevel.service
  systemd-journald-audit.socket systemd-timesyncd.service ldconfig.service getty.target
  getty-static.service console-getty.service systemd-ask-password-wall.path
  systemd-ask-password-console.path dev-hugepages.mount sys-kernel-config.mount
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount)

sd_dir() { printf '%s/sd\n' "$(host_state "$1")"; }
sd_cgroup() { printf 'ferry-lab-%s-%s\n' "$lab" "$1"; }

# The machine's cgroup hierarchies, "DIR TYPE OPTIONS" (e.g. "memory cgroup memory",
# "systemd cgroup none,name=systemd", "unified cgroup2 -"), from the root namespace's mounts.
sd_hierarchies() {
  awk '$5 ~ "^/sys/fs/cgroup/[^/]+$" {
         for (i = 7; $i != "-"; i++) {}
         t = $(i + 1); n = substr($5, 16)
         if (t == "cgroup2") print n, t, "-"
         else if (t == "cgroup") {
           o = ""; split($(i + 3), a, ",")
           for (k in a) if (a[k] != "rw" && a[k] != "ro") o = o (o == "" ? "" : ",") a[k]
           if (o ~ /^name=/) o = "none," o
           print n, t, o
         }
       }' /proc/1/mountinfo
}

sd_cg_create() {
  local cg n _t _o d f
  cg=$(sd_cgroup "$1")
  while read -r n _t _o; do
    d=/sys/fs/cgroup/$n/$cg
    mkdir -p "$d"
    # A v1 cpuset cgroup takes no task until it has CPUs and memory nodes.
    for f in cpuset.cpus cpuset.mems; do
      [[ -f $d/$f && -z $(cat "$d/$f") ]] && cat "/sys/fs/cgroup/$n/$f" >"$d/$f"
    done
  done < <(sd_hierarchies)
  return 0
}

# Removes HOST's cgroups (every process in them must be gone), deepest first.
sd_cg_remove() {
  local cg n _t _o i
  cg=$(sd_cgroup "$1")
  for ((i = 0; i < 20; i++)); do
    while read -r n _t _o; do
      [[ -d /sys/fs/cgroup/$n/$cg ]] && find "/sys/fs/cgroup/$n/$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done < <(sd_hierarchies)
    [[ -z $(sd_cg_left "$1") ]] && return 0
    sleep 0.2
  done
  log "$1: cgroups left: $(sd_cg_left "$1" | tr '\n' ' ')"
}
sd_cg_left() { local n _t _o; while read -r n _t _o; do [[ -d /sys/fs/cgroup/$n/$(sd_cgroup "$1") ]] && printf '%s\n' "$n"; done < <(sd_hierarchies); return 0; }
# Every pid (as the machine sees it) in HOST's cgroups.
sd_cg_pids() { cat "/sys/fs/cgroup/systemd/$(sd_cgroup "$1")"/{,*/,*/*/,*/*/*/,*/*/*/*/}cgroup.procs 2>/dev/null | sort -u; }

# The host's disk for systemd: written once, kept across reboots.
sd_prepare() {
  local h=$1 d u f
  d=$(sd_dir "$h")
  mkdir -p "$d/etc-systemd-system" "$d/var-lib-systemd" "$d/journal" "$d/var-tmp" "$d/tmpfiles.d"
  chmod 1777 "$d/var-tmp"
  [[ -s $d/machine-id ]] || printf '%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$d/machine-id"
  [[ -s $d/hostname ]] || printf '%s\n' "$h" >"$d/hostname"
  # A server's target: podman's generated units are WantedBy=default.target.
  [[ -L $d/etc-systemd-system/default.target ]] || ln -s /lib/systemd/system/multi-user.target "$d/etc-systemd-system/default.target"
  for u in "${sd_masked[@]}"; do
    [[ -e $d/etc-systemd-system/$u || -L $d/etc-systemd-system/$u ]] || ln -s /dev/null "$d/etc-systemd-system/$u"
  done
  # tmpfiles: the machine's entries (its /etc's override /usr/lib's of the same name) only for
  # paths that are the host's own; the rest (the machine's /etc, /var/log, /var/lib) untouched.
  for f in /usr/lib/tmpfiles.d/*.conf /etc/tmpfiles.d/*.conf; do
    [[ -f $f ]] || continue
    awk '/^[ \t]*(#|$)/ {next}
         $2 ~ "^/(run|tmp|var/tmp|var/lib/systemd|var/log/journal|var/lib/containers/storage|srv|var/lib/ferry-data)(/|$)" {print}' \
      "$f" >"$d/tmpfiles.d/${f##*/}"
  done
}

# Lines for the host's mount namespace script, before the binds of podman's paths: a private
# /run (the binds under /run go on top of it) and /tmp, and the host's own systemd files.
sd_mount_script() {
  local h=$1 d b
  d=$(sd_dir "$h")
  # The machine's mounts under /run (its netns handles, other labs') go first: hidden under the
  # tmpfs they would still show in the host's mount table.
  printf '%s\n' "for m in \$(awk '\$5 ~ \"^/run/\" {print \$5}' /proc/self/mountinfo | sort -r); do umount -l \"\$m\" 2>/dev/null || true; done"
  printf '%s\n' "mount -t tmpfs -o mode=755,nosuid,nodev ferry-lab-run /run" \
    "mount -t tmpfs -o mode=1777,nosuid,nodev ferry-lab-tmp /tmp"
  for b in "${binds[@]}"; do
    [[ ${b#*:} == /run/* ]] && printf "mkdir -p '%s'\n" "${b#*:}"
  done
  printf "mount --bind '%s' '%s'\n" "$d/var-tmp" /var/tmp "$d/etc-systemd-system" /etc/systemd/system \
    "$d/var-lib-systemd" /var/lib/systemd "$d/machine-id" /etc/machine-id "$d/hostname" /etc/hostname \
    "$d/tmpfiles.d" /etc/tmpfiles.d
  [[ -d /var/log/journal ]] && printf "mount --bind '%s' /var/log/journal\n" "$d/journal"
  return 0
}

# PID 1 of HOST's PID namespace, as the machine sees it: a systemd in HOST's mount namespace.
sd_pid1() {
  local s pid mnt
  s=$(host_state "$1")
  pid=$(cat "$(sd_dir "$1")/init.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  mnt=$(stat -L -c %i "$(host_mntns "$1")" 2>/dev/null) || return 1
  [[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "mnt:[$mnt]" ]] || return 1
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == "$sd_bin "* ]] || return 1
  printf '%s\n' "$pid"
}

# The nsenter command line that runs a command as HOST: through its PID 1 in systemd mode.
host_nsenter() {
  local h=$1 wd=$PWD pid
  [[ -d $wd ]] || wd=/
  if [[ $systemd_mode == 1 ]]; then
    pid=$(sd_pid1 "$h") || die "$h: its systemd is not running (scripts/lab reboot $h boots it)"
    nsenter_cmd=(nsenter --target "$pid" --net --mount --pid --cgroup --uts --ipc --wd="$wd" --)
  else
    nsenter_cmd=(nsenter --net="$(host_netns "$h")" --mount="$(host_mntns "$h")" --wd="$wd" --)
  fi
}

# Boots HOST's systemd: PID 1 of a new PID namespace, in the host's cgroup. Returns once the
# system is running (or degraded).
sd_boot() {
  local h=$1 d s pid n t o boot i state
  d=$(sd_dir "$h"); s=$(host_state "$h")
  sd_pid1 "$h" >/dev/null && return 0
  sd_prepare "$h"
  sd_cg_create "$h"
  # PID 1's first steps, in the new namespaces: a /proc of its own (fs.file-max and fs.nr_open,
  # which PID 1 raises, read-only), cgroupfs mounted anew (its roots are the host's cgroup).
  boot='set -e
umount -l /proc 2>/dev/null || true
mount -t proc -o nosuid,nodev,noexec proc /proc
for f in /proc/sys/fs/file-max /proc/sys/fs/nr_open; do mount --bind "$f" "$f"; mount -o remount,bind,ro "$f"; done
umount -l /sys/fs/cgroup 2>/dev/null || true
mount -t tmpfs -o mode=755,nosuid,nodev,noexec ferry-lab-cgroup /sys/fs/cgroup'
  while read -r n t o; do
    boot+=$'\n'"mkdir -p /sys/fs/cgroup/$n"
    if [[ $t == cgroup2 ]]; then
      boot+=$'\n'"mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup/$n"
    else
      boot+=$'\n'"mount -t cgroup -o nosuid,nodev,noexec,$o cgroup /sys/fs/cgroup/$n"
    fi
  done < <(sd_hierarchies)
  boot+=$'\n'"exec env -i container=ferry-lab PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $sd_bin --system --show-status=0"
  printf '=== %s boot\n' "$(date -Is)" >>"$d/console.log"
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
    done
    while read -r n t o; do printf '%s\n' "$BASHPID" >"/sys/fs/cgroup/$n/$(sd_cgroup "$h")/cgroup.procs"; done < <(sd_hierarchies)
    exec setsid nsenter --net="$(host_netns "$h")" --mount="$(host_mntns "$h")" -- \
      unshare --pid --fork --kill-child --cgroup --uts --ipc -- sh -c "$boot"
  ) </dev/null >>"$d/console.log" 2>&1 &
  pid=$!
  # unshare forks PID 1: its only child.
  for ((i = 0; i < 50; i++)); do
    n=$(awk '{print $1}' "/proc/$pid/task/$pid/children" 2>/dev/null)
    [[ -n $n ]] && printf '%s\n' "$n" >"$d/init.pid" && sd_pid1 "$h" >/dev/null && break
    alive "$pid" || break
    sleep 0.1
  done
  sd_pid1 "$h" >/dev/null || { tail -n 20 "$d/console.log" >&2; die "$h: systemd did not start (see $d/console.log)"; }
  host_nsenter "$h"
  for ((i = 0; i < sd_boot_wait_s * 5; i++)); do
    state=$("${nsenter_cmd[@]}" systemctl is-system-running 2>/dev/null || true)
    case $state in
      running|degraded) break ;;
    esac
    sleep 0.2
  done
  log "$h: systemd $(sd_pid1 "$h" || true) booted: $state"
  [[ $state == degraded ]] && log "$h: failed units: $("${nsenter_cmd[@]}" systemctl --failed --plain --no-legend 2>/dev/null | awk '{print $1}' | tr '\n' ' ')"
  [[ $state == running || $state == degraded ]] || die "$h: systemd is '$state' after ${sd_boot_wait_s}s (see $d/console.log)"
}

# Power off: SIGKILL to PID 1 takes every process of the PID namespace with it.
sd_kill() {
  local h=$1 pid i
  # Each step may find its process gone already (a race, not a failure): never the end of the script.
  pid=$(sd_pid1 "$h") && { kill -KILL "$pid" 2>/dev/null || true; }
  for ((i = 0; i < 100; i++)); do
    [[ -z $(sd_cg_pids "$h") ]] && ! { [[ -n ${pid:-} ]] && alive "$pid"; } && break
    for pid in $(sd_cg_pids "$h"); do kill -KILL "$pid" 2>/dev/null || true; done
    sleep 0.1
  done
  rm -f "$(sd_dir "$h")/init.pid"
}

# A pid of HOST's PID namespace as the machine sees it.
sd_outer_pid() {
  local h=$1 inner=$2 ns p
  ns=$(readlink "/proc/$(sd_pid1 "$h")/ns/pid") || return 1
  for p in $(sd_cg_pids "$h"); do
    [[ $(readlink "/proc/$p/ns/pid" 2>/dev/null) == "$ns" ]] || continue
    awk -v i="$inner" '$1 == "NSpid:" && $NF == i {f = 1} END {exit !f}' "/proc/$p/status" 2>/dev/null && { printf '%s\n' "$p"; return 0; }
  done
  return 1
}

# The agent as HOST's service, with the flags agent_start passes. Prints its pid (the machine's).
sd_agent_launch() {
  local h=$1 s ip d
  s=$(host_state "$h"); ip=$(host_ip "$h"); d=$(sd_dir "$h")
  cat >"$d/etc-systemd-system/$sd_agent_unit.tmp" <<EOF
# Written by ferry scripts/lab for $h of lab $lab: packaging/ferry-agent.service with the lab's flags.
[Unit]
Description=Ferry agent ($h of lab $lab)
After=network.target

[Service]
Type=simple
ExecStart=$agent_bin --name $h --listen $(agent_listen "$h") --state-dir $s/agent --podman-root $podman_root --podman-runroot $podman_runroot --podman-tmpdir $podman_tmpdir --tls-dir $pki --metrics-listen $ip:9470 --policy-file $s/policy.json
# Only the agent itself: the containers' conmon processes it started must outlive a restart.
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=330
# No restart: the lab's agent-stop --kill is a crash that stays until agent-start.
Restart=no
StandardInput=null
StandardOutput=append:$s/agent.log
StandardError=inherit

[Install]
WantedBy=multi-user.target
EOF
  mv -f "$d/etc-systemd-system/$sd_agent_unit.tmp" "$d/etc-systemd-system/$sd_agent_unit"
  host_nsenter "$h"
  "${nsenter_cmd[@]}" systemctl daemon-reload
  "${nsenter_cmd[@]}" systemctl enable --quiet "$sd_agent_unit"
  "${nsenter_cmd[@]}" systemctl reset-failed "$sd_agent_unit" 2>/dev/null || true
  "${nsenter_cmd[@]}" systemctl start "$sd_agent_unit" || return 1
  sd_agent_outer_pid "$h"
}

# The agent service's main pid as the machine sees it (waits a little for it).
sd_agent_outer_pid() {
  local h=$1 inner i
  host_nsenter "$h"
  for ((i = 0; i < 50; i++)); do
    inner=$("${nsenter_cmd[@]}" systemctl show -p MainPID --value "$sd_agent_unit" 2>/dev/null || true)
    [[ $inner =~ ^[1-9][0-9]*$ ]] && sd_outer_pid "$h" "$inner" && return 0
    sleep 0.1
  done
  return 1
}

# After a boot: the enabled agent service comes up by itself; record its pid and wait for its port.
sd_agent_wait() {
  local h=$1 s pid i
  s=$(host_state "$h")
  [[ -L $(sd_dir "$h")/etc-systemd-system/multi-user.target.wants/$sd_agent_unit ]] || return 0
  pid=$(sd_agent_outer_pid "$h") || die "$h: its agent service did not start after the boot (see $s/agent.log)"
  printf '%s\n' "$pid" >"$s/agent.pid"
  for ((i = 0; i < agent_wait_s * 5; i++)); do
    agent_listening "$h" && { log "$h: agent $pid listening on $(agent_listen "$h")"; return 0; }
    sleep 0.2
  done
  die "$h: agent $pid did not accept on $(agent_listen "$h") within ${agent_wait_s}s"
}

# A reboot's power-off in systemd mode: every process gone, the mount namespace (with /run, /tmp
# and every container mount) dropped and made anew, the runtime dirs under the state dir emptied.
sd_power_off() {
  local h=$1 s mntns netns pid b
  s=$(host_state "$h"); mntns=$(host_mntns "$h"); netns=$(host_netns "$h")
  sd_kill "$h"
  for pid in $(pids_in_ns mnt "$mntns") $(pids_in_ns net "$netns"); do kill -KILL "$pid" 2>/dev/null || true; done
  umount "$mntns" 2>/dev/null || umount -l "$mntns" 2>/dev/null || true
  rm -f "$mntns"
  for b in runroot tmp networks runc; do
    [[ -d $s/$b ]] && find "$s/$b" -mindepth 1 -delete 2>/dev/null || true
  done
  setup_mntns "$h"
  mntns_ok "$h" || die "$h: after the reboot its mount namespace does not show its own state dirs at podman's paths"
}

# `down`: the cgroups of this lab's hosts, also of hosts no longer known (a half-made lab).
sd_cg_remove_lab() {
  local n _t _o d
  while read -r n _t _o; do
    for d in /sys/fs/cgroup/"$n"/ferry-lab-"$lab"-host?; do
      [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done < <(sd_hierarchies)
  return 0
}
