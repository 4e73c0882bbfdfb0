# Sourced by .ci/run: ensure_chromium installs Debian's chromium when it is
# missing and exports MERGEDESK_CHROMIUM for the browser tests
# (internal/web/ui/browser_test.go), which fail instead of skipping under CI=true.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "could not install chromium"; exit 1
  fi
  export MERGEDESK_CHROMIUM=/usr/bin/chromium
  /usr/bin/chromium --version 2>/dev/null || true
}
