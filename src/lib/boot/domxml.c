#include "domxml.h"

#include <string.h>

#include "agent-proto.h"
#include "guest-contract.h"
#include "span.h"
#include "uplink.h"

char *nl_domain_cmdline(const NlLab *lab, const NlNode *node) {
  GString *s = g_string_new(
      "console=ttyS0 "
      /* A panic reboots at once, and <on_reboot>destroy</on_reboot> turns
       * that into a stopped domain the host notices. */
      "panic=-1 "
      /* PCI interrupt routing through ACPI runs the AML interpreter for
       * each device: ~0.1 s apiece under TCG. The BIOS's $PIR table has the
       * same routing. */
      "pci=noacpi "
      /* The crypto self-tests cost ~270 ms under TCG. */
      "cryptomgr.notests mitigations=off no_timer_check audit=0 apparmor=0 "
      /* Without it the TSC is distrusted under TCG and the clock falls back
       * to jiffies after ~10 s. */
      "tsc=reliable "
      /* ttyS1 carries gdbserver's protocol for `netlab gdb --serial`. */
      "8250.nr_uarts=2 "
      /* No address space randomization in user space, as under gdb. QEMU
       * reuses code it translated only at the same virtual address, so
       * under TCG this makes every program start 3 times faster (a dynamic
       * binary: 53 ms -> 16 ms). */
      "norandmaps "
      /* Symbols from vmlinux must match for `netlab gdb`. */
      "nokaslr net.ifnames=0 rdinit=/init");
  /* Tells the first stage to put the overlay's upper layer on vda. */
  if (node->disk_mib) g_string_append(s, " " NL_GUEST_ARG_DISK);
  if (lab->append) g_string_append_printf(s, " %s", lab->append);
  if (node->append) g_string_append_printf(s, " %s", node->append);
  return g_string_free(s, FALSE);
}

/* Appends FMT to X, every string argument escaped for XML: a path or name
 * in it may hold any character. */
static void xml(GString *x, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void xml(GString *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *text = g_markup_vprintf_escaped(fmt, ap);
  va_end(ap);
  g_string_append(x, text);
}

typedef enum {
  SHARE_RO,        /* read-only: the guest sees the host's owners and modes */
  SHARE_RW,        /* read-write: what the guest sets stays in xattrs */
  SHARE_RO_MAPPED, /* read-only, owners, modes and file types from xattrs */
} ShareMode;

static void share(GString *x, const char *src, const char *tag, ShareMode mode, gboolean remap) {
  /* A read-only share shows the host's files as they are ("squash" is
   * QEMU's security_model=none). A read-write one is "mapped"
   * (security_model=mapped-xattr): QEMU creates every file as a plain file
   * of its own user, mode 0600, and keeps the owner, mode and type the guest
   * asked for in user.virtfs.* xattrs. So a guest's chown, chmod +s, mknod
   * or symlink never makes a real setuid file, device node or symlink on the
   * host. */
  g_string_append_printf(x, "    <filesystem type='mount' accessmode='%s'%s>\n",
                         mode == SHARE_RO ? "squash" : "mapped", remap ? " multidevs='remap'" : "");
  xml(x, "      <source dir='%s'/>\n      <target dir='%s'/>\n", src, tag);
  if (mode != SHARE_RW) g_string_append(x, "      <readonly/>\n");
  g_string_append(x, "    </filesystem>\n");
}

static void qarg(GString *x, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void qarg(GString *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *v = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  xml(x, "    <qemu:arg value='%s'/>\n", v);
}

/* NICs sit in fixed PCI slots from here on, so that the kernel, which names
 * them in PCI order, makes eth0, eth1... in lab.conf order. libvirt places its
 * own devices from slot 2 upwards and never gets this far. */
#define NIC_FIRST_SLOT 0x10

/* The domain's identity, size and boot: name, netlab's metadata, memory,
 * CPUs, kernel, initrd, command line, features. */
static void xml_head(GString *x, const NlLab *lab, const NlNode *node, const NlDomainSpec *spec) {
  g_string_append_printf(
      x, "<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n",
      spec->kvm ? "kvm" : "qemu");
  xml(x,
      "  <name>%s</name>\n  <metadata>\n"
      "    <netlab:node xmlns:netlab='https://netlab.invalid/xmlns/node/1' lab='%s' name='%s'/>\n"
      "  </metadata>\n",
      spec->domain, lab->dir, node->name);
  g_string_append_printf(x, "  <memory unit='MiB'>%u</memory>\n  <vcpu>%u</vcpu>\n", spec->mem_mib,
                         spec->cpus);
  xml(x,
      "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n"
      "    <kernel>%s</kernel>\n",
      spec->kernel);
  if (spec->initrd) xml(x, "    <initrd>%s</initrd>\n", spec->initrd);
  xml(x, "    <cmdline>%s</cmdline>\n  </os>\n", spec->cmdline);
  /* ACPI is what lets `poweroff -f` in the guest end the domain. */
  g_string_append(x, "  <features>\n    <acpi/>\n");
  if (!spec->kvm)
    /* QEMU's TCG translation cache defaults to 1 GiB per VM, and the boot
     * alone fills 32 MiB of it: measured with Debian's kernel, 64 MiB costs
     * 34 MiB more resident memory per VM for no faster boot; 16 MiB saves
     * 19 MiB but flushes during the boot and costs 0.4 s. */
    g_string_append(x,
                    "    <tcg>\n      <tb-cache unit='MiB'>32</tb-cache>\n"
                    "    </tcg>\n");
  g_string_append(x, "  </features>\n");
  if (spec->kvm) g_string_append(x, "  <cpu mode='host-passthrough'/>\n");
}

/* The 9p shares (guest-contract.h names their tags) and the node's disk. */
static void xml_storage(GString *x, const NlVmPaths *p, const NlDomainSpec *spec) {
  if (spec->image_root) /* One filesystem of netlab's cache: nothing to remap. */
    share(x, spec->image_root, NL_GUEST_TAG_ROOT, SHARE_RO_MAPPED, FALSE);
  else
    share(x, "/", NL_GUEST_TAG_ROOT, SHARE_RO, TRUE);
  if (spec->modules) share(x, spec->modules, NL_GUEST_TAG_MODULES, SHARE_RO, FALSE);
  /* A node on another host finds its configuration and a copy of the lab
   * in its initramfs (see remote.c): no 9p share reaches it. */
  if (!spec->remote) {
    share(x, p->conf, NL_GUEST_TAG_CONF, SHARE_RO, FALSE);
    /* /hostlab is read-only: what netlab and its user later read with
     * authority (lab.conf, tests/, NODE/, startup scripts) is there. */
    share(x, spec->labdir, NL_GUEST_TAG_LAB, SHARE_RO, FALSE);
  }
  if (spec->have_shared && !spec->remote) {
    g_autofree char *shared =
        spec->shared ? g_strdup(spec->shared) : g_build_filename(spec->labdir, "shared", NULL);
    share(x, shared, NL_GUEST_TAG_SHARED, spec->shared_ro ? SHARE_RO : SHARE_RW, FALSE);
  }

  if (spec->disk) {
    /* No backing chain, whatever the image's header says: libvirt and QEMU
     * open this file and no other. */
    xml(x,
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n      <source file='%s'/>\n"
        "      <backingStore/>\n      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n",
        spec->disk);
  }
}

/* On another host the sockets would be out of reach: the serial ports are
 * ptys and the virtio ports sockets that libvirt names, all reached through
 * virDomainOpenConsole() and virDomainOpenChannel(). */
static void xml_remote_ports(GString *x) {
  g_string_append(x,
                  "    <serial type='pty'><target port='0'/></serial>\n"
                  "    <serial type='pty'><target port='1'/></serial>\n"
                  "    <channel type='unix'><source mode='bind'/>"
                  "<target type='virtio' name='" NL_GUEST_PORT_CTL "'/></channel>\n");
  for (int i = 0; i < NLA_PORTS; i++)
    g_string_append_printf(x,
                           "    <channel type='unix'><source mode='bind'/>"
                           "<target type='virtio' name='" NL_GUEST_PORT_AGENT "%d'/></channel>\n",
                           i);
}

/* The serial ports and the virtio-serial channels: console, gdbserver's
 * port, the control port, the agent's session ports. */
static void xml_ports(GString *x, const NlNode *node, const NlVmPaths *p,
                      const NlDomainSpec *spec) {
  if (spec->remote) {
    xml_remote_ports(x);
    return;
  }
  xml(x,
      "    <serial type='unix'>\n      <source mode='bind' path='%s'/>\n"
      "      <log file='%s' append='off'/>\n      <target port='0'/>\n    </serial>\n",
      p->console, spec->log);
  /* No log: a binary protocol (gdbserver's) is what runs on it. */
  xml(x,
      "    <serial type='unix'>\n      <source mode='bind' path='%s'/>\n"
      "      <target port='1'/>\n    </serial>\n",
      p->serial1);
  xml(x,
      "    <channel type='unix'>\n      <source mode='bind' path='%s'/>\n"
      "      <target type='virtio' name='" NL_GUEST_PORT_CTL "'/>\n    </channel>\n",
      p->ctl);
  for (int i = 0; i < NLA_PORTS; i++) {
    g_autofree char *sock = nl_layout_agent_sock(p, i);
    xml(x,
        "    <channel type='unix'>\n      <source mode='bind' path='%s'/>\n"
        "      <target type='virtio' name='" NL_GUEST_PORT_AGENT "%d'/>\n    </channel>\n",
        sock, i);
  }
}

/* What libvirt has no element for, given to QEMU directly. */
static void xml_qemu(GString *x, const NlLab *lab, const NlNode *node, const NlVmPaths *p,
                     const NlDomainSpec *spec) {
  /* libvirt has no VDE interface type: the NICs and the GDB stub go to QEMU
   * directly. */
  g_string_append(x, "  <qemu:commandline>\n");
  for (guint i = 0; i < node->nics->len; i++) {
    const NlNic *nic = node->nics->pdata[i];
    /* The NIC's wirefilter, or its LAN's wire, waits on a point-to-point
     * VDE socket (see link.h); netdev nlN is what `set_link` names. */
    g_autofree char *sock = nic->end >= 0 ? nl_layout_wire_end(spec->statedir, nic->lan, nic->end)
                                          : nl_layout_nic(spec->statedir, node->name, i, "");
    char mac[18];
    nl_mac_format(nic->mac, mac);
    /* A NIC on a LAN spanning hosts plugs into its vxvde:// network, its
     * MTU leaving room for the VXLAN header. */
    const char *url = spec->nic_urls ? spec->nic_urls[i] : NULL;
    g_autofree char *mtu = url || nl_lan_vxvde(lab, nic->lan)
                               ? g_strdup_printf(",host_mtu=%u", spec->span_mtu)
                               : g_strdup("");
    qarg(x, "-netdev");
    if (url)
      qarg(x, "vde,id=nl%u,sock=%s", i, url);
    else
      qarg(x, "vde,id=nl%u,sock=ptp://%s", i, sock);
    qarg(x, "-device");
    /* romfile= skips loading iPXE, which nothing here boots from. Without
     * guest_announce, QEMU's announce_self sends its frames itself, whatever
     * the guest's configuration (link.h). */
    qarg(x, "virtio-net-pci,netdev=nl%u,mac=%s,addr=0x%x,romfile=,guest_announce=off%s", i, mac,
         NIC_FIRST_SLOT + i, mtu);
  }
  if (node->bridged) {
    /* The uplink, to passt (see uplink.h), in the slot after the last NIC,
     * so it is the last ethN. */
    g_autofree char *sock = nl_layout_uplink(spec->statedir, node->name);
    char mac[18];
    nl_mac_format(node->uplink_mac, mac);
    qarg(x, "-netdev");
    qarg(x, "stream,id=nlup,server=off,addr.type=unix,addr.path=%s", sock);
    qarg(x, "-device");
    qarg(x, "virtio-net-pci,netdev=nlup,mac=%s,addr=0x%x,romfile=", mac,
         NIC_FIRST_SLOT + node->nics->len);
  }
  /* No GDB stub on another host: libvirt has no stream to reach it. */
  if (!spec->remote) {
    qarg(x, "-gdb");
    qarg(x, "unix:%s,server=on,wait=off", p->gdb);
    /* A QMP monitor of netlab's own, beside libvirt's: `netlab events`
     * hears QEMU's SHUTDOWN, STOP and RESUME there, and its end, without
     * holding the embedded driver (which one process at a time may). */
    qarg(x, "-chardev");
    qarg(x, "socket,id=nlevents,path=%s,server=on,wait=off", p->qmp);
    qarg(x, "-mon");
    qarg(x, "chardev=nlevents,mode=control");
  }
  g_string_append(x, "  </qemu:commandline>\n");
  if (!spec->kvm)
    /* With this capability, libvirt checks the guest CPU's features one
     * QMP call each (400 of them, 0.4 s per VM) while QEMU waits to start;
     * without it, two calls. The TCG CPU is QEMU's default either way. */
    g_string_append(x,
                    "  <qemu:capabilities>\n"
                    "    <qemu:del capability='cpu-unavailable-features'/>\n"
                    "  </qemu:capabilities>\n");
}

char *nl_domain_xml(const NlLab *lab, const NlNode *node, const NlDomainSpec *spec) {
  GString *x = g_string_new(NULL);
  g_auto(NlVmPaths) p = {0};
  nl_layout_vm(&p, spec->statedir, lab->dir, node->name);
  xml_head(x, lab, node, spec);
  g_string_append(x,
                  "  <clock offset='utc'/>\n"
                  "  <on_poweroff>destroy</on_poweroff>\n"
                  "  <on_reboot>destroy</on_reboot>\n"
                  "  <on_crash>destroy</on_crash>\n"
                  "  <devices>\n");
  xml(x, "    <emulator>%s</emulator>\n", spec->emulator);
  g_string_append(x,
                  "    <controller type='usb' model='none'/>\n"
                  "    <memballoon model='none'/>\n"
                  "    <video><model type='none'/></video>\n");
  if (spec->pvpanic)
    /* The guest's kernel reports its panic here (its pvpanic-mmio driver
     * binds the ACPI device QEMU0001), before it would reboot: QEMU then
     * pauses it, its memory intact, and libvirt calls it crashed. */
    g_string_append(x, "    <panic model='isa'><address type='isa' iobase='0x505'/></panic>\n");
  xml_storage(x, &p, spec);
  xml_ports(x, node, &p, spec);
  g_string_append(x, "  </devices>\n");
  xml_qemu(x, lab, node, &p, spec);
  g_string_append(x, "</domain>\n");
  return g_string_free(x, FALSE);
}

/* What Kathará sets in every device (its DockerMachine and
 * KubernetesMachine): forwarding on, no reverse-path filter, no ICMP rate
 * limit, and IPv6 off unless the node asks for it. The node's own sysctls
 * come after these, so a lab can undo any of them. */
static void kathara_sysctls(const NlNode *node, GString *out) {
  static const char *const base[] = {
      "net.ipv4.ip_forward=1",         "net.ipv4.icmp_ratelimit=0",
      "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
      "net.ipv4.conf.lo.rp_filter=0",  NULL,
  };
  static const char *const v6_on[] = {
      "net.ipv6.conf.default.disable_ipv6=0",
      "net.ipv6.conf.all.disable_ipv6=0",
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv6.conf.all.accept_ra=0",
      "net.ipv6.icmp.ratelimit=0",
      NULL,
  };
  static const char *const v6_off[] = {
      "net.ipv6.conf.default.disable_ipv6=1",
      "net.ipv6.conf.all.disable_ipv6=1",
      "net.ipv6.conf.default.forwarding=0",
      "net.ipv6.conf.all.forwarding=0",
      NULL,
  };
  for (const char *const *s = base; *s; s++) g_string_append_printf(out, "%s\n", *s);
  for (guint i = 0; i < node->nics->len; i++)
    g_string_append_printf(out, "net.ipv4.conf.eth%u.rp_filter=0\n", i);
  for (const char *const *s = node->ipv6 ? v6_on : v6_off; *s; s++)
    g_string_append_printf(out, "%s\n", *s);
}

GHashTable *nl_guest_conf(const NlNode *node, gboolean have_shared, const char *agent) {
  GHashTable *files = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  GString *sh = g_string_new(NULL);
  g_autofree char *qname = g_shell_quote(node->name);
  g_string_append_printf(sh, "NL_NAME=%s\nNL_MACS='", qname);
  for (guint i = 0; i < node->nics->len; i++) {
    char mac[18];
    nl_mac_format(((NlNic *)node->nics->pdata[i])->mac, mac);
    g_string_append_printf(sh, "%s%s", i ? " " : "", mac);
  }
  g_autofree char *qagent = g_shell_quote(agent);
  g_string_append_printf(sh, "'\nNL_AGENT=%s\n", qagent);
  if (node->bridged)
    g_string_append_printf(sh, "NL_UPLINK=eth%u\nNL_UPLINK_ADDR=%s\nNL_UPLINK_GATEWAY=%s\n",
                           node->nics->len, NL_UPLINK_ADDR, NL_UPLINK_GATEWAY);
  if (node->shell) {
    g_autofree char *qshell = g_shell_quote(node->shell);
    g_string_append_printf(sh, "NL_SHELL=%s\n", qshell);
  }
  for (guint i = 0; i < node->env->len; i++) {
    const char *kv = node->env->pdata[i];
    const char *eq = strchr(kv, '=');
    g_autofree char *val = g_shell_quote(eq + 1);
    g_string_append_printf(sh, "export %.*s=%s\n", (int)(eq - kv), kv, val);
  }
  g_hash_table_insert(files, NL_GUEST_FILE_NODE, g_string_free(sh, FALSE));

  GString *sysctl = g_string_new(NULL);
  kathara_sysctls(node, sysctl);
  for (guint i = 0; i < node->sysctl->len; i++)
    g_string_append_printf(sysctl, "%s\n", (char *)node->sysctl->pdata[i]);
  g_hash_table_insert(files, NL_GUEST_FILE_SYSCTL, g_string_free(sysctl, FALSE));

  GString *exec = g_string_new(NULL);
  for (guint i = 0; i < node->exec->len; i++)
    g_string_append_printf(exec, "%s\n", (char *)node->exec->pdata[i]);
  g_hash_table_insert(files, NL_GUEST_FILE_EXEC, g_string_free(exec, FALSE));

  GString *ulimit = g_string_new(NULL);
  for (guint i = 0; i < node->ulimits->len; i++)
    g_string_append_printf(ulimit, "%s%s", i ? " " : "", (char *)node->ulimits->pdata[i]);
  g_hash_table_insert(files, NL_GUEST_FILE_ULIMIT, g_string_free(ulimit, FALSE));

  g_hash_table_insert(files, NL_GUEST_FILE_MOUNTS,
                      g_strdup(have_shared ? NL_GUEST_TAG_SHARED "\n" : ""));
  return files;
}

void nl_guest_conf_image(GHashTable *files, gboolean modules) {
  const char *sh = g_hash_table_lookup(files, NL_GUEST_FILE_NODE);
  g_hash_table_insert(files, NL_GUEST_FILE_NODE, g_strconcat(sh, "NL_IMAGE=1\n", NULL));
  const char *mounts = g_hash_table_lookup(files, NL_GUEST_FILE_MOUNTS);
  if (modules)
    g_hash_table_insert(files, NL_GUEST_FILE_MOUNTS,
                        g_strconcat(mounts, NL_GUEST_TAG_MODULES "\n", NULL));
}
