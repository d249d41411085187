/* The layout of a lab's state directory and of its data directory (what
 * outlives a lab's run): the one place that names them. Every other file asks here
 * for a path and never joins state-directory names itself. Pure functions:
 * nothing is created or checked on disk. Names (nodes, LANs, domains) are
 * checked where they come from (lab.c, vm.c, exec.c) never to hold a '/'
 * or be "." or "..", so what is built here stays inside the directory. */
#pragma once

#include <glib.h>

/* STATE/
 *   lock                      flock()ed by the netlab working on the lab
 *   events.log{,.1}           the lab's event log (events.h)
 *   events.lock               flock()ed by the `netlab events` watching QEMU
 *   lab, accel, nodes, ...    small named values (nl_state_set/get)
 *   hosts, host.NODE, vxvde.LAN  a lab across hosts (remote.c)
 *   procs                     the processes up started (sandbox.c)
 *   vm/NODE/                  one VM's sockets, made by the QEMU user
 *   conf/NODE/                its configuration share, read-only in the guest
 *   lan/NAME, lan/NAME.mgmt   a LAN's vde_switch
 *   wire/NAME.{0,1,mgmt}      a LAN of two interfaces: its wirefilter
 *   nic/NODE.I{,.mgmt,.vnl}   an interface's wirefilter
 *   nic/NODE.up               a bridged node's passt
 *   link/NODE.I.{impair,down} netlab's record of a link
 *   mnt/                      binds QEMU reaches the lab and kernels through
 *   etc/, run/, log/, cache/  the embedded libvirt driver's root
 *   locks/NODE/               console.lock, agent-N.lock: only netlab's
 *   console/NODE.fifo         where QEMU writes the console, for netlab-log
 * DATA/: what outlives the lab's run (see the end of this file). */

/* Where one VM's sockets and files live. Sockets are in DIR, which the QEMU
 * user owns; the configuration is in CONF and the locks in LOCKS, which only
 * netlab writes: nothing netlab opens lies where QEMU could swap it. */
typedef struct {
  char *dir;          /* STATE/vm/NODE */
  char *conf;         /* STATE/conf/NODE */
  char *locks;        /* STATE/locks/NODE */
  char *console;      /* DIR/console.sock: ttyS0 */
  char *console_lock; /* LOCKS/console.lock: held by an attached console */
  char *ctl;          /* DIR/ctl.sock: virtio-serial port netlab.ctl */
  char *gdb;          /* DIR/gdb.sock: QEMU's GDB stub */
  char *serial1;      /* DIR/serial1.sock: ttyS1, for gdbserver */
  char *qmp;          /* DIR/events.sock: a QMP monitor for `netlab events` */
  char *fifo;         /* STATE/console/NODE.fifo: QEMU's console log goes there */
  char *log;          /* DATA/logs/NODE.console.log; NULL without LABDIR */
} NlVmPaths;

void nl_layout_vm(NlVmPaths *p, const char *statedir, const char *labdir, const char *node);
void nl_layout_vm_clear(NlVmPaths *p);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NlVmPaths, nl_layout_vm_clear)

/* DIR/agent-PORT.sock and LOCKS/agent-PORT.lock: the agent's session ports,
 * PORT < NLA_PORTS, and the lock a client holds on one. */
char *nl_layout_agent_sock(const NlVmPaths *p, int port);
char *nl_layout_agent_lock(const NlVmPaths *p, int port);

/* STATE/KEY: a named value, the lock ("lock"), the process list ("procs"). */
char *nl_layout_key(const char *statedir, const char *key);
#define NL_LAYOUT_LOCK "lock"
#define NL_LAYOUT_PROCS "procs"

/* STATE/events.log + SUFFIX: the event log (""), its previous part
 * (".1"), the watcher's lock (".lock" makes STATE/events.lock). */
char *nl_layout_events(const char *statedir, const char *suffix);

/* STATE/vm: a directory per VM, named after its node; STATE/locks and
 * STATE/console: netlab's own, beside it. */
char *nl_layout_vms(const char *statedir);
char *nl_layout_locks(const char *statedir);
char *nl_layout_fifos(const char *statedir);
/* STATE/lan and STATE/lan/NAME: the vde_switch directory QEMU plugs into;
 * STATE/lan/NAME.mgmt its management socket. */
char *nl_layout_lans(const char *statedir);
char *nl_layout_lan(const char *statedir, const char *lan);
char *nl_layout_lan_mgmt(const char *statedir, const char *lan);
/* STATE/ext: a file per host interface that lab.ext made netlab create or
 * change, written before it does (wire/ext.h): what `down` undoes. */
char *nl_layout_ext(const char *statedir);
/* STATE/wire and STATE/wire/LAN + SUFFIX: a wire's files (link.h): ".0"
 * and ".1" the point-to-point sockets of its ends, ".0.vnl" and ".1.vnl"
 * their URLs for wirefilter, ".mgmt" its management socket. */
char *nl_layout_wires(const char *statedir);
char *nl_layout_wire(const char *statedir, const char *lan, const char *suffix);
/* The point-to-point socket of a wire's END (0 or 1). */
char *nl_layout_wire_end(const char *statedir, const char *lan, int end);
/* STATE/nic and STATE/nic/NODE.INDEX + SUFFIX: the point-to-point socket
 * between an interface's NIC and its wirefilter (SUFFIX ""), and the
 * wirefilter's files (".mgmt", ".vnl"). */
char *nl_layout_nics(const char *statedir);
char *nl_layout_nic(const char *statedir, const char *node, guint index, const char *suffix);
/* STATE/nic/NODE.up: a bridged node's uplink socket (uplink.h): passt
 * listens, QEMU connects. */
char *nl_layout_uplink(const char *statedir, const char *node);
/* STATE/link and STATE/link/NODE.INDEX + SUFFIX (".impair", ".down"). */
char *nl_layout_links(const char *statedir);
char *nl_layout_link(const char *statedir, const char *node, guint index, const char *suffix);
/* STATE/mnt: where up binds what the QEMU user may not reach itself. */
char *nl_layout_mnt(const char *statedir);
/* STATE/capture-LAN.pcap: `netlab test`'s capture of a LAN. */
char *nl_layout_capture(const char *statedir, const char *lan);
/* STATE/capture-LAN.PID.fifo: where QEMU dumps a wire's frames for capture
 * PID. In STATE, which only netlab writes: no QEMU can swap it for a link. */
char *nl_layout_capture_fifo(const char *statedir, const char *lan, int pid);

/* The embedded libvirt driver's root is STATE itself: its configuration
 * (etc/qemu.conf), capability cache, each QEMU's pidfile and log; and
 * libvirt's own log (log/libvirt.log). */
char *nl_layout_libvirt_conf(const char *statedir);
char *nl_layout_libvirt_caps(const char *statedir);
/* run/qemu: the driver's pidfiles, DOMAIN.pid. */
char *nl_layout_qemu_run(const char *statedir);
char *nl_layout_qemu_pidfile(const char *statedir, const char *domain);
char *nl_layout_qemu_log(const char *statedir, const char *domain);
char *nl_layout_logs(const char *statedir);
char *nl_layout_libvirt_log(const char *statedir);

/* The lab's id: <basename>-<8 hex of sha256(LABDIR)>, LABDIR absolute. Its
 * state directory and its data directory are named after it. */
char *nl_layout_lab_id(const char *labdir);

/* DATA = BASE/<id> holds what outlives a lab's run, where no share of a
 * guest reaches and only the user who runs netlab writes. BASE is
 * /var/lib/netlab for root, else the user's home (from the password
 * database, never $HOME) /.local/share/netlab:
 *   DATA/state                 while the lab is up: its state directory
 *   DATA/logs/NODE.console.log (and .1, .2, .cut: logkeep.h)
 *   DATA/disks/NODE.qcow2      with NODE.dirty, NODE.booted
 *   DATA/artifacts/TIME        what a failed `netlab test` leaves
 *   DATA/vmcores/NODE-TIME.vmcore  kernel crash dumps (vmcore.h) */
char *nl_layout_data_base(void);
/* BASE/runtime: the private directory a non-root user's state directories
 * moved to when another user had taken /tmp/netlab-UID (state.h). */
char *nl_layout_runtime_record(void);
char *nl_layout_data(const char *labdir);
#define NL_LAYOUT_DATA_SUBDIRS \
  { "logs", "disks", "artifacts", "vmcores" }
char *nl_layout_state_record(const char *labdir);
char *nl_layout_console_logs(const char *labdir);
char *nl_layout_console_log(const char *labdir, const char *node);
/* LOG.1 and LOG.2 (PART 1 or 2), the tail of the console log LOG, and
 * LOG.cut, what was dropped of it (logkeep.h). */
char *nl_layout_console_part(const char *log, int part);
char *nl_layout_console_cut(const char *log);
char *nl_layout_disks(const char *labdir);
/* DATA/disks/NODE + SUFFIX (".qcow2", ".dirty", ".booted"). */
char *nl_layout_disk(const char *labdir, const char *node, const char *suffix);
char *nl_layout_artifacts(const char *labdir, const char *stamp);
char *nl_layout_vmcores(const char *labdir);
/* LABDIR/.netlab: where older netlabs kept that data, in the guests' reach;
 * never read. */
#define NL_LAYOUT_OLD_DATA ".netlab"
char *nl_layout_old_data(const char *labdir);
