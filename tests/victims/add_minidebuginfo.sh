#!/bin/sh
# SPDX-License-Identifier: MIT
# Strips IN into OUT and gives OUT MiniDebugInfo, as Fedora's find-debuginfo
# does (add_minidebug): the function symbols that .dynsym lacks, in an
# xz-compressed ELF in the section .gnu_debugdata, where gdb and elfutils
# look for them.
# usage: add_minidebuginfo.sh NM OBJCOPY XZ IN OUT
set -eu
nm=$1 objcopy=$2 xz=$3 in=$4 out=$5
tmp=$out.tmp
rm -rf "$tmp"
mkdir "$tmp"
"$objcopy" --only-keep-debug "$in" "$tmp/debug"
"$objcopy" --strip-all "$in" "$tmp/stripped"
"$nm" -D "$tmp/stripped" --format=posix --defined-only |
	awk '{ print $1 }' | sort >"$tmp/dynsyms"
"$nm" "$tmp/debug" --format=posix --defined-only |
	awk '{ if ($2 == "T" || $2 == "t" || $2 == "D") print $1 }' |
	sort >"$tmp/funcsyms"
comm -13 "$tmp/dynsyms" "$tmp/funcsyms" >"$tmp/keep"
"$objcopy" -S --remove-section .gdb_index --remove-section .comment \
	--keep-symbols="$tmp/keep" "$tmp/debug" "$tmp/mini"
"$xz" -f "$tmp/mini"
"$objcopy" --add-section .gnu_debugdata="$tmp/mini.xz" "$tmp/stripped"
mv "$tmp/stripped" "$out"
rm -rf "$tmp"
