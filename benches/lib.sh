# Shell functions both load scripts use: ports, encoding, starting a server,
# signing in to the portal with curl, and reading wrk's reports. Sourced,
# never run.

DEMO_PASSWORD=wabapool-demo

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

wait_until_up() { # url pid log seconds-between-tries; stops the script if the server exits first
  until curl -sf -o /dev/null "$1"; do
    kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
    sleep "$4"
  done
}

csrf_of() { # reads a page on stdin; prints its CSRF token
  grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//'
}

session_cookie() { # jar; prints the session cookie it holds as name=value
  grep wabapool_session "$1" | awk '{print $6"="$7}'
}

login_form() { # base jar; visits /login afresh and prints its session cookie and CSRF token
  local token
  token=$(curl -s -c "$2" -b "$2" "$1/login" | csrf_of)
  echo "$(session_cookie "$2") $token"
}

sign_in() { # base email password jar; prints the session cookie
  local cookie token
  read -r cookie token <<<"$(login_form "$1" "$4")"
  curl -s -o /dev/null -c "$4" -b "$4" --data-urlencode "csrf_token=$token" --data-urlencode "email=$2" --data-urlencode "password=$3" "$1/login"
  session_cookie "$4"
}

# wrk's report (`wrk --latency`), read.
rps_of() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
percentile_of() { # report percentile, as `50%` or `99%`
  awk -v p="$2" '$1==p {print $2}' <<<"$1"
}

# The start of a wrk script that counts answers it did not expect: each
# thread keeps `unexpected`; `number_thread` (or `count_thread`) as `setup`
# gives each thread its number, 1 up, as `index`; `done` prints the total.
counting_lua() {
  cat <<'EOF'
local threads = {}
function count_thread(thread) table.insert(threads, thread) end
local next_index = 0
function number_thread(thread)
  next_index = next_index + 1
  thread:set("index", next_index)
  count_thread(thread)
end
function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do n = n + (thread:get("unexpected") or 0) end
  io.write(string.format("Unexpected answers: %d\n", n))
end
EOF
}

# Sends: a template to a recipient of its own per request (a prefix, the wrk
# thread and a counter), so stickiness and idempotency never short-cut
# a send; any answer but 201 counts as an error.
send_script() { # prefix pool key; prints the wrk script (the prefix tells apart the recipients of several wrk processes)
  counting_lua
  cat <<EOF
setup = number_thread
function init(args)
  sent = 0
  unexpected = 0
end
function request()
  sent = sent + 1
  local body = string.format('{"to": "44$1%02d%08d", "type": "template", "template": {"name": "load", "language": {"code": "en"}}}', index, sent)
  return wrk.format("POST", "/api/v1/pools/$2/messages",
    { ["Authorization"] = "Bearer $3", ["Content-Type"] = "application/json" }, body)
end
function response(status, headers, body)
  if status ~= 201 then unexpected = unexpected + 1 end
end
EOF
}
