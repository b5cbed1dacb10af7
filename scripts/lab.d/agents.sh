# scripts/lab, sourced: each host's agent, started, stopped and waited for (agent-start,
# agent-stop, and up's agents).
# shellcheck shell=bash

# kill -0 also succeeds on a zombie, and a detached agent may wait a while for its reaper.
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st && $st != Z ]]
}

port_open() { timeout 1 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

# Pids whose namespace of the given kind (mnt, net) is the one behind the handle file.
pids_in_ns() {
  local kind=$1 handle=$2 ino p
  ino=$(stat -L -c %i "$handle" 2>/dev/null) || return 0
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/$kind" 2>/dev/null) == "$kind:[$ino]" ]] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

# --- agents -------------------------------------------------------------------------------------

agent_pid() {
  local s pid; s=$(host_state "$1")
  pid=$(cat "$s/agent.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # The pid must still be our agent: its command line names this host's state dir.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$s/agent" || return 1
  printf '%s\n' "$pid"
}

agent_stop() {
  local h=$1 kill=${2:-} s pid i
  s=$(host_state "$h")
  if ! pid=$(agent_pid "$h"); then
    rm -f "$s/agent.pid"
    return 0
  fi
  if [[ $kill == --kill ]]; then
    # A crash: the agent and whatever it started that is still in its process group. conmon
    # detaches into its own session, so containers survive, as they would a real agent crash.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for ((i = 0; i < agent_stop_wait_s * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$h: agent $pid ignored SIGTERM for ${agent_stop_wait_s}s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$s/agent.pid"
  log "$h: agent $pid stopped${kill:+ (SIGKILL)}"
}

agent_start() {
  local h=$1 s ip pid i rc
  s=$(host_state "$h"); ip=$(host_ip "$h")
  [[ -x $agent_bin ]] || die "agent binary $agent_bin is missing or not executable (build the agent, or set FERRY_AGENT_BIN)"
  agent_stop "$h"
  if agent_listening "$h"; then
    die "$h: $(agent_listen "$h") already accepts connections before the agent started (a stray process?)"
  fi
  mkdir -p "$s/agent"
  printf '=== %s agent start: %s\n' "$(date -Is)" "$agent_bin" >>"$s/agent.log"
  if [[ $systemd_mode == 1 ]]; then
    pid=$(sd_agent_launch "$h") || pid=
  else
    # setsid: its own session and process group, so it outlives this shell and --kill can take the
    # group. Inherited descriptors (our lock, a caller's pipes) are closed so the agent holds none.
    (
      for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
      done
      exec setsid nsenter --net="$(host_netns "$h")" --mount="$(host_mntns "$h")" -- "$agent_bin" \
        --name "$h" --listen "$(agent_listen "$h")" $(agent_ssh_flags "$h") --state-dir "$s/agent" \
        --podman-root "$podman_root" --podman-runroot "$podman_runroot" --podman-tmpdir "$podman_tmpdir" \
        --tls-dir "$pki" --metrics-listen "$ip:9470" --policy-file "$s/policy.json" </dev/null >>"$s/agent.log" 2>&1
    ) &
    pid=$!
  fi
  printf '%s\n' "$pid" >"$s/agent.pid"
  for ((i = 0; i < agent_wait_s * 5; i++)); do
    if [[ -z $pid ]] || ! alive "$pid"; then
      wait "$pid" 2>/dev/null && rc=0 || rc=$?
      rm -f "$s/agent.pid"
      log "$h: agent exited (status $rc) before listening on $(agent_listen "$h"); last lines of $s/agent.log:"
      tail -n 20 "$s/agent.log" >&2
      exit 1
    fi
    if agent_listening "$h"; then
      log "$h: agent $pid listening on $(agent_listen "$h")"
      return 0
    fi
    sleep 0.2
  done
  log "$h: agent $pid did not accept on $(agent_listen "$h") within ${agent_wait_s}s; last lines of $s/agent.log:"
  tail -n 20 "$s/agent.log" >&2
  agent_stop "$h" --kill
  exit 1
}
