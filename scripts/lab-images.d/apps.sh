# Sourced by scripts/lab-images: the recipes of the opt-in application images (mariadb,
# memcached, nginx, java, node, sqlite), built only when named. Each is a rootfs of Debian's
# binaries and libraries (installed by scripts/setup-host), run as uid 0, with busybox for /bin/sh;
# the small services they run are in scripts/lab-apps/. See the usage at the top of lab-images.

apps=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lab-apps
libdir=/usr/lib/x86_64-linux-gnu

# Checks, in the main shell (build's prepare_NAME), that an image's inputs are installed.
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || [[ -e $t ]] || die "missing '$t' (run scripts/setup-host)"
  done
}

# Copies into the rootfs the libraries ldd resolves for FILE, which is already there (a jlink'd
# runtime's own libraries resolve to the rootfs itself and are skipped).
add_libs() {
  local r=$1 file=$2 lib
  while read -r lib; do
    [[ $lib == "$r"/* || -e $r/$(canon "$lib") ]] || install -D -m 0755 "$(readlink -f "$lib")" "$r/$(canon "$lib")"
  done < <(ldd "$file" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

# The ld.so cache, and /var/run for programs that still use it.
finish_rootfs() {
  local r=$1
  [[ -e $r/var/run ]] || { mkdir -p "$r/var"; ln -s ../run "$r/var/run"; }
  printf '/usr/lib/x86_64-linux-gnu\n/usr/lib\n' >"$r/etc/ld.so.conf"
  ldconfig -r "$r"
}

# MariaDB: Debian's mariadb-server-core (mariadbd, mariadb-install-db) and mariadb-client-core.
# resolveip is left out: mariadb-install-db runs with --force (no hostname lookup).
mdb_bins=(/usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/my_print_defaults)
prepare_mariadb() { need "${mdb_bins[@]}" /usr/bin/mariadb-install-db /usr/share/mysql/english/errmsg.sys; }
inputs_mariadb() {
  printf '%s\n' "${mdb_bins[@]}" /usr/bin/mariadb-install-db "$(command -v busybox)"
  find /usr/share/mysql -maxdepth 1 -name '*.sql' | sort
  printf '%s\n' /usr/share/mysql/english/errmsg.sys
}

build_rootfs_mariadb() {
  local r=$1 f
  new_rootfs "$r"
  add_busybox "$r"   # /bin/sh and the tools mariadb-install-db runs (sed, uname, ...)
  for f in "${mdb_bins[@]}"; do add_elf "$r" "$f"; done
  install -m 0755 /usr/bin/mariadb-install-db "$r/usr/bin/mariadb-install-db"
  ln -s mariadbd "$r/usr/sbin/mysqld"; ln -s mariadb "$r/usr/bin/mysql"
  mkdir -p "$r/usr/share/mysql"
  cp -a /usr/share/mysql/*.sql /usr/share/mysql/charsets /usr/share/mysql/english "$r/usr/share/mysql/"
  mkdir -p "$r/etc/mysql" "$r/var/lib/mysql" "$r/run/mysqld"
  mdb_cnf >"$r/etc/mysql/my.cnf"
  mkdir -p "$r/usr/share/ferry"
  mdb_init_sql >"$r/usr/share/ferry/mariadb-init.sql"
  mdb_entrypoint >"$r/usr/bin/ferry-mariadb-entrypoint"
  chmod 0755 "$r/usr/bin/ferry-mariadb-entrypoint"
  finish_rootfs "$r"
}

mdb_cnf() {
  cat <<'CNF'
# ferry lab: MariaDB as root (CRIU here cannot dump another uid's processes), reachable from any
# address, data in /var/lib/mysql (bind-mount a host directory there). Errors go to stderr.
[client-server]
socket = /run/mysqld/mysqld.sock
port = 3306

[mysqld]
user = root
datadir = /var/lib/mysql
pid-file = /run/mysqld/mysqld.pid
bind-address = 0.0.0.0
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
CNF
}

# Run by mariadb-install-db after the system tables: a root that logs in from anywhere without a
# password (lab only), and a database for the tests. The accounts install-db made for the build
# container's hostname only draw warnings under skip-name-resolve: dropped.
mdb_init_sql() {
  cat <<'SQL'
DELETE FROM mysql.global_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1', '%');
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS ferry;
SQL
}

mdb_entrypoint() {
  cat <<'SH'
#!/bin/sh
# ferry lab mariadb entrypoint: mariadb-install-db into an empty datadir, then exec mariadbd as root.
set -eu
DATADIR=${MARIADB_DATADIR:-/var/lib/mysql}
case "${1:-}" in
  "" | -*) set -- mariadbd "$@" ;;   # no command, or server options only
  mariadbd) ;;
  *) exec "$@" ;;                    # mariadb, sh, ...
esac
shift
mkdir -p /run/mysqld "$DATADIR"
if [ ! -d "$DATADIR/mysql" ]; then
  if [ -n "$(ls -A "$DATADIR")" ]; then
    echo "ferry-mariadb: $DATADIR is neither empty nor a datadir (no mysql/)" >&2
    exit 1
  fi
  # --force: no hostname lookup (resolveip is not in the image); root@'%' comes from the extra file.
  mariadb-install-db --user=root --datadir="$DATADIR" --skip-test-db --skip-name-resolve --force \
    --auth-root-authentication-method=normal --extra-file=/usr/share/ferry/mariadb-init.sql >&2
fi
exec mariadbd --user=root --datadir="$DATADIR" "$@"
SH
}

prepare_memcached() { need memcached; }
inputs_memcached() { printf '%s\n' "$(command -v memcached)" "$(command -v busybox)"; }

build_rootfs_memcached() {
  local r=$1
  new_rootfs "$r"
  add_elf "$r" "$(command -v memcached)" /usr/bin/memcached
  add_busybox "$r"
  finish_rootfs "$r"
}

prepare_nginx() { need /usr/sbin/nginx /etc/nginx/mime.types; }
inputs_nginx() { printf '%s\n' /usr/sbin/nginx /etc/nginx/mime.types "$(command -v busybox)"; }

build_rootfs_nginx() {
  local r=$1
  new_rootfs "$r"
  add_elf "$r" /usr/sbin/nginx
  add_busybox "$r"
  mkdir -p "$r/etc/nginx" "$r/var/lib/nginx" "$r/var/log/nginx" "$r/srv/www"
  cp /etc/nginx/mime.types "$r/etc/nginx/mime.types"
  nginx_conf >"$r/etc/nginx/nginx.conf"
  printf 'ferry lab nginx: bind-mount a directory on /srv/www\n' >"$r/srv/www/index.html"
  finish_rootfs "$r"
}

nginx_conf() {
  cat <<'CONF'
# ferry lab: master and workers as root (CRIU here cannot dump another uid's processes), in the
# foreground, serving /srv/www on port 80.
user root;
daemon off;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr;

events {
  worker_connections 1024;
}

http {
  include mime.types;
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 65;
  access_log off;
  server {
    listen 80 default_server;
    server_name _;
    root /srv/www;
    autoindex on;
    location / {
      try_files $uri $uri/ =404;
    }
  }
}
CONF
}

# Java: a runtime jlink'd from Debian's OpenJDK 17 (its jmods) with the two modules the service
# needs (about 40 MB instead of the JRE's 200), and the service compiled at build time.
jdk=/usr/lib/jvm/java-17-openjdk-amd64
prepare_java() { need "$jdk/bin/jlink" "$jdk/bin/javac" "$jdk/jmods/java.base.jmod" "$jdk/jmods/jdk.httpserver.jmod"; }
inputs_java() {
  printf '%s\n' "$jdk/jmods/java.base.jmod" "$jdk/jmods/jdk.httpserver.jmod" "$jdk/lib/server/libjvm.so" \
    "$jdk/bin/jlink" "$apps/FerryCounter.java" "$(command -v busybox)"
}

build_rootfs_java() {
  local r=$1 f
  new_rootfs "$r"
  add_busybox "$r"
  mkdir -p "$r/usr/lib/jvm"
  "$jdk/bin/jlink" --module-path "$jdk/jmods" --add-modules java.base,jdk.httpserver \
    --strip-debug --no-header-files --no-man-pages --compress=2 --output "$r/usr/lib/jvm/java-17" ||
    die "jlink failed"
  ln -s /usr/lib/jvm/java-17/bin/java "$r/usr/bin/java"
  while read -r f; do add_libs "$r" "$f"; done < <(find "$r/usr/lib/jvm/java-17" -type f \( -name '*.so' -o -path '*/bin/*' \))
  mkdir -p "$r/opt/ferry-apps"
  "$jdk/bin/javac" --release 17 -d "$r/opt/ferry-apps" "$apps/FerryCounter.java" || die "javac failed"
  finish_rootfs "$r"
}

# Node.js: Debian 12's nodejs 18, whose .debs apt-get download fetches into the cache (once per
# version; this machine's node is another package); the libraries it loads come from here (ldd).
debs=$cache/debs
# Debian's node loads some builtins from other packages' files (NODE_SHARED_BUILTIN_*_PATH).
node_pkgs=(nodejs libnode108 node-cjs-module-lexer node-acorn node-undici)
node_suite=bookworm   # /etc/os-release may say sid here: criu came from there with base-files
declare -A deb_dirs=()

# "PKG VERSION" of every version apt knows in $node_suite (and its -security, -updates suites).
# apt-cache takes seconds here, so the answer is kept while the apt lists stay the same.
deb_versions() {
  local f=$debs/versions stamp
  stamp=$({ echo "${node_pkgs[*]}"; stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages*; } 2>/dev/null |
          sha256sum | cut -c1-16)
  if [[ $(head -1 "$f" 2>/dev/null) != "$stamp" ]]; then
    { printf '%s\n' "$stamp"
      apt-cache madison "${node_pkgs[@]}" 2>/dev/null |
        awk -F' [|] ' -v c="$node_suite" '$3 ~ (" " c "(-[a-z]+)?/") {gsub(/ /, "", $1); print $1, $2}'
    } >"$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
  tail -n +2 "$f"
}

# The newest version of PKG there.
deb_version() {
  local pkg=$1 best="" p v
  while read -r p v; do
    [[ $p == "$pkg" ]] || continue
    [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best" && best=$v
  done < <(deb_versions)
  [[ -n $best ]] || return 1
  printf '%s\n' "$best"
}

# Fetches and unpacks PKG's .deb once per version; remembers its directory in deb_dirs. Runs in
# the main shell (prepare_node), so that a failure stops the build.
deb_fetch() {
  local pkg=$1 ver dir deb
  ver=$(deb_version "$pkg") || {
    log "no $pkg of $node_suite in the apt lists; apt-get update"
    apt-get update -qq >&2 || true
    ver=$(deb_version "$pkg") || die "apt knows no $pkg in $node_suite"
  }
  dir=$debs/${pkg}_${ver//:/%3a}
  if [[ ! -f $dir/.done ]]; then
    log "fetching $pkg=$ver (apt-get download)"
    rm -rf "$dir"; mkdir -p "$dir"
    ( cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" ) >&2 ||
      die "apt-get download $pkg=$ver failed (is the apt mirror reachable? apt-get update?)"
    deb=$(find "$dir" -maxdepth 1 -name '*.deb' | head -1)
    [[ -n $deb ]] || die "apt-get download $pkg=$ver left no .deb"
    mkdir -p "$dir/root"
    dpkg-deb -x "$deb" "$dir/root"
    touch "$dir/.done"
  fi
  deb_dirs[$pkg]=$dir
}

prepare_node() { local pkg; mkdir -p "$debs"; for pkg in "${node_pkgs[@]}"; do deb_fetch "$pkg"; done; }

# The .debs and the unpacked ELF files (so the key covers them and the libraries they load here).
inputs_node() {
  local pkg
  for pkg in "${node_pkgs[@]}"; do find "${deb_dirs[$pkg]}" -maxdepth 1 -name '*.deb'; done
  printf '%s\n' "${deb_dirs[nodejs]}/root/usr/bin/node" "${deb_dirs[libnode108]}/root$libdir/libnode.so.108" \
    "$apps/counter.js" "$(command -v busybox)"
}

build_rootfs_node() {
  local r=$1 node lib pkg
  local -a libpath=()
  new_rootfs "$r"
  add_busybox "$r"
  for pkg in "${node_pkgs[@]}"; do libpath+=("${deb_dirs[$pkg]}/root$libdir"); done
  node=${deb_dirs[nodejs]}/root/usr/bin/node
  install -D -m 0755 "$node" "$r/usr/bin/node"
  ln -s node "$r/usr/bin/nodejs"
  # Libraries from the unpacked packages keep their path inside the package; the others are ours.
  while read -r lib; do
    local dest=$lib p
    for p in "${libpath[@]}"; do [[ $lib == "$p"/* ]] && dest=$libdir/${lib#"$p"/}; done
    [[ -e $r/$(canon "$dest") ]] || install -D -m 0755 "$(readlink -f "$lib")" "$r/$(canon "$dest")"
  done < <(LD_LIBRARY_PATH=$(IFS=:; echo "${libpath[*]}") ldd "$node" |
           awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
  [[ -e $r$libdir/libnode.so.108 ]] || die "libnode.so.108 did not reach the image"
  # The builtins libnode names (acorn, cjs-module-lexer, undici's fetch), from their packages.
  local f found
  while read -r f; do
    found=
    for pkg in "${node_pkgs[@]}"; do
      [[ -f ${deb_dirs[$pkg]}/root$f ]] || continue
      install -D -m 0644 "${deb_dirs[$pkg]}/root$f" "$r$f"; found=1; break
    done
    [[ -n $found ]] || die "node's builtin $f is in none of: ${node_pkgs[*]}"
  done < <(grep -ao 'NODE_SHARED_BUILTIN_[A-Z_]*_PATH=[^"]*' "$r$libdir/libnode.so.108" | sed 's/^[^=]*=//' | sort -u)
  install -D -m 0644 "$apps/counter.js" "$r/opt/ferry-apps/counter.js"
  finish_rootfs "$r"
}

# SQLite: Debian's python3 (its sqlite3 module, libsqlite3) with the standard library, minus
# what a server never loads (build config, tests, 2to3, docs data).
py_bin() { readlink -f /usr/bin/python3; }   # Debian's, not a python3 earlier on PATH (pyenv)
prepare_sqlite() { need /usr/bin/python3; }
inputs_sqlite() {
  local py; py=$(py_bin)
  printf '%s\n' "$py" "$(command -v busybox)" "$apps/kv-sqlite.py"
  find "/usr/lib/${py##*/}/lib-dynload" -name '*.so' ! -name '_test*' ! -name 'xx*' ! -name '_ctypes_test*' | sort
}

build_rootfs_sqlite() {
  local r=$1 py ver f
  py=$(py_bin); ver=${py##*/}   # python3.11
  new_rootfs "$r"
  add_busybox "$r"
  add_elf "$r" "$py" "/usr/bin/$ver"
  ln -s "$ver" "$r/usr/bin/python3"
  mkdir -p "$r/usr/lib"
  tar -C /usr/lib --exclude="$ver/config-*" --exclude="$ver/test" --exclude="$ver/lib2to3" \
    --exclude="$ver/pydoc_data" --exclude="$ver/ensurepip" --exclude="$ver/distutils" \
    --exclude="$ver/idlelib" --exclude="$ver/tkinter" --exclude="$ver/turtledemo" \
    --exclude="$ver/lib-dynload/_test*" --exclude="$ver/lib-dynload/xx*" \
    --exclude="$ver/lib-dynload/_ctypes_test*" -cf - "$ver" | tar -C "$r/usr/lib" -xf -
  while read -r f; do add_libs "$r" "$f"; done < <(find "$r/usr/lib/$ver/lib-dynload" -name '*.so')
  install -D -m 0755 "$apps/kv-sqlite.py" "$r/opt/ferry-apps/kv-sqlite.py"
  finish_rootfs "$r"
}

changes_mariadb=(--change 'ENTRYPOINT ["/usr/bin/ferry-mariadb-entrypoint"]' --change 'CMD ["mariadbd"]'
                 --change 'EXPOSE 3306/tcp')
changes_memcached=(--change 'CMD ["memcached","-u","root","-l","0.0.0.0","-p","11211","-m","64"]'
                   --change 'EXPOSE 11211/tcp')
changes_nginx=(--change 'CMD ["nginx"]' --change 'STOPSIGNAL SIGQUIT' --change 'EXPOSE 80/tcp')
changes_java=(--change 'ENV JAVA_OPTS='
              --change 'CMD ["/bin/sh","-c","exec java $JAVA_OPTS -cp /opt/ferry-apps FerryCounter"]'
              --change 'EXPOSE 8080/tcp')
changes_node=(--change 'CMD ["node","/opt/ferry-apps/counter.js"]' --change 'EXPOSE 3000/tcp')
changes_sqlite=(--change 'ENV PYTHONDONTWRITEBYTECODE=1' --change 'ENV PYTHONUNBUFFERED=1'
                --change 'ENV FERRY_SQLITE_DB=/data/app.db' --change 'WORKDIR /data'
                --change 'CMD ["python3","/opt/ferry-apps/kv-sqlite.py"]' --change 'EXPOSE 8000/tcp')
