# Sourced by scripts/lab: hosts that run podman 5 (up --podman HOST=5, podman-upgrade HOST).
# shellcheck shell=bash
#
# The machine's podman is Debian 12's 4.3.1. Debian sid has podman 5; installing it would replace
# 4.3.1 for everything else on the machine, so the lab keeps a private kit instead: sid's podman,
# conmon, netavark, aardvark-dns, runc and the libraries they need that this release lacks,
# extracted (dpkg-deb -x) under $podman5_kit, never installed. A podman 5 host binds the kit's
# podman over /usr/bin/podman in its own mount namespace, with a containers.conf that names the
# kit's conmon, helpers and runc by their paths. Measured on these machines (HOSTS.md's kernel,
# cgroup v1):
# - runc 1.3 fails every container start when its binary is bind-mounted over /usr/sbin/runc
#   ("can't get final child's PID from pipe"), and works named by its path: hence containers.conf.
# - sid's conmon needs a newer glib than this release's: the kit keeps sid's glib and pcre2 in a
#   folder only conmon looks in.
# - dpkg-deb -x makes no soname links (ldconfig would), and podman is run again by conmon for
#   its clean-up with conmon's environment: the binaries carry their library path (RPATH, set
#   with patchelf, itself extracted from its package) rather than an LD_LIBRARY_PATH.
# - on cgroup v1 every podman 5 command warns that v1 is deprecated: PODMAN_IGNORE_CGROUPSV1_WARNING.
# The kit is built once per machine (about 40 MB from the mirror) under a lock, and checked by a
# stamp that names what it holds.

podman5_kit=/var/lib/ferry-lab/podman5
# What the kit takes from sid, beside podman: its helpers, runc, and the libraries whose sid
# versions it needs (sonames or minimum versions this release does not have).
podman5_packages=(podman conmon netavark aardvark-dns runc golang-github-containers-common
                  libgpgme45 libassuan9 libgpg-error0 libseccomp2 libsubid6)
podman5_conmon_libs=(libglib2.0-0t64 libpcre2-8-0)

podman5_stamp() { printf '%s/stamp\n' "$podman5_kit"; }

# True when the kit is whole: its podman runs and says 5.
podman5_kit_ok() {
  [[ -f $(podman5_stamp) ]] && "$podman5_kit/root/usr/bin/podman" --version 2>/dev/null | grep -q '^podman version 5\.'
}

podman5_kit_ensure() {
  podman5_kit_ok && return 0
  mkdir -p /run/lock
  exec 6>/run/lock/ferry-lab-podman5.lock
  flock -w 600 6 || die "another lab is building the podman 5 kit (lock /run/lock/ferry-lab-podman5.lock)"
  if podman5_kit_ok; then exec 6>&-; return 0; fi
  log "building the podman 5 kit in $podman5_kit (sid's packages, extracted, not installed)"
  [[ -f /etc/apt/sources.list.d/ferry-sid.sources ]] || die "no sid source (scripts/setup-host adds it for CRIU): cannot fetch podman 5"
  local work=$podman5_kit.new p f lib
  rm -rf "$work"
  mkdir -p "$work/debs" "$work/root" "$work/conmon-libs" "$work/tools"
  (
    cd "$work/debs"
    apt-get download -qq $(printf '%s/sid ' "${podman5_packages[@]}" "${podman5_conmon_libs[@]}") patchelf >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download -qq $(printf '%s/sid ' "${podman5_packages[@]}" "${podman5_conmon_libs[@]}") patchelf; }
  ) || die "could not download the podman 5 packages from sid"
  for p in "${podman5_packages[@]}"; do
    f=$(ls "$work/debs/${p}_"*.deb 2>/dev/null | head -1)
    [[ -n $f ]] || die "podman 5 kit: $p was not downloaded"
    dpkg-deb -x "$f" "$work/root"
  done
  for p in "${podman5_conmon_libs[@]}"; do dpkg-deb -x "$(ls "$work/debs/${p}_"*.deb | head -1)" "$work/conmon-extract"; done
  cp -a "$work/conmon-extract"/usr/lib/x86_64-linux-gnu/{libglib-2.0.so.0*,libpcre2-8.so.0*} "$work/conmon-libs/"
  dpkg-deb -x "$(ls "$work/debs/patchelf_"*.deb | head -1)" "$work/tools"
  lib=$work/root/usr/lib/x86_64-linux-gnu
  # The soname links ldconfig would make.
  for f in "$lib"/*.so.*.*; do ln -sf "$(basename "$f")" "$(sed -E 's/(\.so\.[0-9]+)\..*/\1/' <<<"$f")"; done
  # Library paths as they will be once $work is renamed to $podman5_kit.
  local final_lib=$podman5_kit/root/usr/lib/x86_64-linux-gnu
  for f in usr/bin/podman usr/sbin/runc; do "$work/tools/usr/bin/patchelf" --force-rpath --set-rpath "$final_lib" "$work/root/$f"; done
  "$work/tools/usr/bin/patchelf" --force-rpath --set-rpath "$podman5_kit/conmon-libs:$final_lib" "$work/root/usr/bin/conmon"
  mkdir -p "$work/etc"
  # podman's own defaults for everything else (sid's file is comments around them).
  {
    cat <<CONF
# Written by ferry scripts/lab (lab.d/podman5.sh): podman 5 of the lab's kit, its binaries named
# by their paths.
[network]
network_backend = "netavark"

[engine]
conmon_path = ["$podman5_kit/root/usr/bin/conmon"]
helper_binaries_dir = ["$podman5_kit/root/usr/lib/podman", "$podman5_kit/root/usr/libexec/podman"]
events_logger = "file"
runtime = "runc"

[engine.runtimes]
runc = ["$podman5_kit/root/usr/sbin/runc"]
CONF
  } >"$work/etc/containers.conf"
  rm -rf "$work/debs" "$work/conmon-extract" "$podman5_kit"
  mv "$work" "$podman5_kit"
  "$podman5_kit/root/usr/bin/podman" --version >"$(podman5_stamp)" || die "the podman 5 kit's podman does not run"
  exec 6>&-
  log "podman 5 kit: $(cat "$(podman5_stamp)"), $("$podman5_kit/root/usr/sbin/runc" --version | head -1)"
}

# The mounts that make a host run podman 5, for its mount namespace's set-up script.
podman5_mount_script() {
  cat <<MNT
mount --bind '$podman5_kit/root/usr/bin/podman' /usr/bin/podman
mount --bind '$podman5_kit/etc/containers.conf' /usr/share/containers/containers.conf
mount --bind '$podman5_kit/root/usr/share/containers/seccomp.json' /usr/share/containers/seccomp.json
MNT
}

# The podman major version a host runs: 5 when the lab records it so, else the machine's.
host_podman_major() {
  [[ " $(recorded PODMAN5) " == *" $1 "* ]] && echo 5 || echo 4
}

# podman-upgrade HOST: from now on HOST runs podman 5, over the storage its podman 4.3 left (as an
# upgrade of the package would). Its running agent and containers keep the binaries they started
# with: a reboot (scripts/lab reboot HOST) is what makes the whole host run the new one.
cmd_podman_upgrade() {
  local h=$1
  [[ $(host_podman_major "$h") == 4 ]] || die "$h already runs podman 5"
  podman5_kit_ensure
  nsenter --mount="$(host_mntns "$h")" -- sh -ec "$(podman5_mount_script)" || die "$h: could not bind podman 5 into its mount namespace"
  podman5_record "$(recorded PODMAN5) $h"
  log "$h: podman $(nsenter --mount="$(host_mntns "$h")" -- podman --version | awk '{print $3}') from now on (reboot it to restart its agent and containers on it)"
}

# Records the hosts that run podman 5 (a space-separated list) in the lab's env file.
podman5_record() {
  sed -i '/^PODMAN5=/d' "$lab_env"
  printf 'PODMAN5=%s\n' "$(echo $1)" >>"$lab_env"
}
