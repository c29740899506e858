# SPDX-License-Identifier: MIT
# bash completion for heldby(1): commands, their options, traces for
# `report`, recorded processes for `snapshot`, and after run/check's PROG, that program's own completion.

_heldby()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	if [[ $cword -eq 1 ]]; then
		COMPREPLY=($(compgen -W 'run report check snapshot --help --version' -- "$cur"))
		return
	fi

	local cmd=${words[1]} i
	case $cmd in
	report)
		case $prev in
		--top | --depth | --at) return ;;
		--color)
			COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--json --top --depth --full --color --at --help' -- "$cur"))
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -X '!*.hbt*' -- "$cur") $(compgen -d -- "$cur"))
		fi
		return
		;;
	snapshot)
		case $prev in
		--label | --top) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--label --json --top --help' -- "$cur"))
		else
			# the processes that map libheldby.so: those it records
			local pids=$(grep -l libheldby /proc/[0-9]*/maps 2>/dev/null | cut -d/ -f3)
			COMPREPLY=($(compgen -W "$pids" -- "$cur"))
		fi
		return
		;;
	run | check)
		# after PROG (or --), the rest is PROG's
		for ((i = 2; i < cword; i++)); do
			case ${words[i]} in
			--) break ;;
			-o | --output | --max-peak | --max-end | --max-blocks) ((i++)) ;;
			-*) ;;
			*) break ;;
			esac
		done
		if [[ $i -lt $cword ]]; then
			[[ ${words[i]} == -- ]] && ((i++))
			if [[ $i -eq $cword ]]; then
				compopt -o filenames 2>/dev/null
				COMPREPLY=($(compgen -c -- "$cur"))
			elif declare -F _command_offset >/dev/null; then
				_command_offset "$i"
			else
				compopt -o filenames 2>/dev/null
				COMPREPLY=($(compgen -f -- "$cur"))
			fi
			return
		fi
		case $prev in
		-o | --output)
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		--max-peak | --max-end | --max-blocks) return ;;
		esac
		if [[ $cur == -* ]]; then
			if [[ $cmd == run ]]; then
				COMPREPLY=($(compgen -W '-o --output -f --follow --help --' -- "$cur"))
			else
				COMPREPLY=($(compgen -W '--max-peak --max-end --max-blocks --no-follow -o --help --' -- "$cur"))
			fi
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		;;
	esac
}
complete -F _heldby heldby
