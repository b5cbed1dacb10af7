// Reading what `systemctl show` and /proc/PID/cgroup say of a container's unit: its name and kind,
// and why Ferry would not move it. The moves themselves are test/e2e/own-lab/systemd.test.ts.
import { describe, expect, it } from 'vitest';
import { unitKind, unitOfCgroup, unitRefusal } from '../../../agent/systemd/unit.ts';

const NEW_START =
  '{ path=/usr/bin/podman ; argv[]=/usr/bin/podman --root /var/lib/containers/storage run --cidfile=/run/container-db.service.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon --replace -d --name db img ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }';
const props = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('a container\'s systemd unit', () => {
  it('is named by the cgroup of its process, on cgroup v1 (name=systemd) or v2', () => {
    expect(unitOfCgroup('9:name=systemd:/system.slice/container-db.service\n4:memory:/system.slice/container-db.service\n0::/system.slice/container-db.service\n')).toBe('container-db.service');
    expect(unitOfCgroup('0::/ferry-lab-x-hostA/system.slice/container-db.service\n')).toBe('container-db.service');
    expect(unitOfCgroup('0::/machine.slice/libpod-conmon-abc.scope\n')).toBeUndefined();
  });

  it('is of the kind its ExecStart runs', () => {
    expect(unitKind(props({ ExecStart: NEW_START }))).toBe('new');
    expect(unitKind(props({ ExecStart: '{ path=/usr/bin/podman ; argv[]=/usr/bin/podman start db ; }', PIDFile: '/run/containers/storage/overlay-containers/abc/userdata/conmon.pid' }))).toBe('existing');
    expect(unitKind(props({ ExecStart: '{ path=/usr/bin/podman ; argv[]=/usr/bin/podman run --rm --name db img ; }' }))).toBe('other');
    expect(unitKind(props({ ExecStart: '{ path=/usr/local/bin/start-db ; argv[]=/usr/local/bin/start-db ; }' }))).toBe('other');
    expect(unitKind(props({ ExecStart: NEW_START, SourcePath: '/etc/containers/systemd/db.container' }))).toBe('quadlet');
  });

  it('is refused when it is not one file in /etc/systemd/system of a kind Ferry knows', () => {
    const file = { FragmentPath: '/etc/systemd/system/container-db.service' };
    expect(unitRefusal('container-db.service', 'new', props(file))).toBe('');
    expect(unitRefusal('container-db.service', 'existing', props(file))).toBe('');
    expect(unitRefusal('container-db.service', 'other', props(file))).toMatch(/cannot tell what its start and stop would do/);
    expect(unitRefusal('db.service', 'quadlet', props({ SourcePath: '/etc/containers/systemd/db.container' }))).toMatch(/Quadlet/);
    expect(unitRefusal('container-db.service', 'new', props({ FragmentPath: '/usr/lib/systemd/system/container-db.service' }))).toMatch(/not in \/etc\/systemd\/system/);
    expect(unitRefusal('container-db.service', 'new', props({ ...file, DropInPaths: '/etc/systemd/system/container-db.service.d/limits.conf' }))).toMatch(/drop-ins/);
  });
});
