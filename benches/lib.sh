# Shell functions both load scripts use: ports, encoding, and signing in to
# the portal with curl. Sourced, never run.

DEMO_PASSWORD=wabapool-demo

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

csrf_of() { # reads a page on stdin; prints its CSRF token
  grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//'
}

session_cookie() { # jar; prints the session cookie it holds as name=value
  grep wabapool_session "$1" | awk '{print $6"="$7}'
}

sign_in() { # base email password jar; prints the session cookie
  local token
  token=$(curl -s -c "$4" -b "$4" "$1/login" | csrf_of)
  curl -s -o /dev/null -c "$4" -b "$4" --data-urlencode "csrf_token=$token" --data-urlencode "email=$2" --data-urlencode "password=$3" "$1/login"
  session_cookie "$4"
}
