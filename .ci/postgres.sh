# Sourced by .ci/run: ensure_postgres exports MERGEDESK_TEST_POSTGRES pointing at a
# PostgreSQL server that answers, starting one when none does.
ensure_postgres() {
  local url="${MERGEDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
  if pg_answers "$url"; then export MERGEDESK_TEST_POSTGRES="$url"; return; fi
  # The machine's own cluster may just be stopped.
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
    sleep 2
    if pg_answers "$url"; then export MERGEDESK_TEST_POSTGRES="$url"; return; fi
  fi
  # Otherwise start a private server from Debian's packages in a temp dir.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  local dir; dir=$(mktemp -d /tmp/mergedesk-pg.XXXXXX)
  chown postgres "$dir" 2>/dev/null || true
  local port=55432
  su postgres -s /bin/sh -c "$bin/initdb -D $dir/data -A trust -U postgres >/dev/null && $bin/pg_ctl -D $dir/data -l $dir/log -o '-p $port -c listen_addresses=127.0.0.1 -k $dir' -w start >/dev/null"
  url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  if ! pg_answers "$url"; then echo "could not start PostgreSQL"; cat "$dir/log" || true; exit 1; fi
  export MERGEDESK_TEST_POSTGRES="$url"
}

pg_answers() {
  if command -v psql >/dev/null; then
    psql "$1" -qtAc 'select 1' >/dev/null 2>&1
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
