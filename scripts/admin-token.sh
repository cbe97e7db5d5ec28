#!/usr/bin/env bash
# admin-token.sh FILE: writes FILE, a tokens file for --admin-tokens-file
# holding one fresh write token named "local", readable by its owner only
# (mode 0600). It prints the file's path and how to read the token into a
# shell variable, never the token itself. `make run` calls it so that the
# admin API and the console work on a fresh machine (README, docs/ADMIN.md).
set -euo pipefail
file=${1:?usage: admin-token.sh FILE}
umask 077
mkdir -p "$(dirname "$file")"
tmp=$(mktemp "$(dirname "$file")/.admin-tokens.XXXXXX")
trap 'rm -f "$tmp"' EXIT
token=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
{
	echo "# admin API tokens (written by make run): <name> <scope> <token>"
	echo "local write $token"
} >"$tmp"
chmod 600 "$tmp"
mv -f "$tmp" "$file"
trap - EXIT
echo "admin tokens file: $file (token \"local\", write scope, mode 0600; read it with:"
echo "  TOKEN=\$(awk '\$1 == \"local\" {print \$3}' $file)"
echo "then open http://127.0.0.1:8001/console or see docs/ADMIN.md)"
