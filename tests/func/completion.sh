#!/bin/bash
# Bash completion: commands, a command's options from its --help, and the
# names in the lab of the current directory. No VM.
. "$(dirname "$0")/lib.sh"

source /usr/share/bash-completion/bash_completion
source "$NETLAB_SRC/doc/netlab.bash-completion"
# Outside a real completion, compopt complains; what it sets is not tested.
compopt() { :; }
comp() { # comp WORDS...: the completions of the last word
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _netlab
  echo "${COMPREPLY[*]}"
}
PATH=$(dirname "$NETLAB"):$PATH
cd "$NETLAB_SRC/labs/vxlan" || exit 1

[ "$(comp netlab capt)" = capture ]
ok $? "a command"
[ "$(comp netlab help ca)" = "capture cat" ]
ok $? "help: the commands"
[ "$(comp netlab capture '')" = "A B C c1:eth0 c1:eth1 c2:eth0 c2:eth1 c2:eth2 core r1:eth0 r2:eth0 r3:eth0" ]
ok $? "capture: the LANs and interfaces of the lab here"
[ "$(comp netlab capture --d)" = "--dir --duration" ]
ok $? "capture's options, from its --help"
[ "$(comp netlab link c2:eth0 '')" = "set show reset down up" ]
ok $? "link: the actions"
[ "$(comp netlab link c2:eth0 set in.l)" = "in.loss=" ]
ok $? "link set: the keys"
[ "$(comp netlab exec c)" = "c1 c2" ]
ok $? "exec: the nodes"
[ "$(cd / && comp netlab exec -d "$NETLAB_SRC/labs/hello" r)" = "r1 r2" ]
ok $? "exec -d LABDIR: that lab's nodes"
[ "$(comp netlab graph -T p)" = "png pdf" ]
ok $? "graph -T: the formats"
finish
