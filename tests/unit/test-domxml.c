/* Topology to libvirt domain XML and guest configuration: pure functions. */
#include <string.h>

#include "domxml.h"
#include "lab.h"
#include "tap.h"

static NlLab *load(const char *name) {
  g_autofree char *dir = g_build_filename(g_getenv("NETLAB_TEST_DATA"), "domxml", name, NULL);
  g_autoptr(GError) error = NULL;
  NlLab *lab = nl_lab_load(dir, NULL, &error);
  if (!lab) printf("# %s\n", error->message);
  return lab;
}

static char *expected(const char *name, const NlLab *lab) {
  g_autofree char *path = g_build_filename(g_getenv("NETLAB_TEST_DATA"), "domxml", name, NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL)) return g_strdup("(missing)");
  g_auto(GStrv) parts = g_strsplit(text, "@LAB@", -1);
  g_autofree char *dir = g_markup_escape_text(lab->dir, -1);
  return g_strjoinv(dir, parts);
}

int main(void) {
  g_autoptr(NlLab) lab = load("two&lab");
  TAP_OK(lab != NULL, "the test lab loads");
  if (!lab) return tap_done();
  NlNode *r1 = nl_lab_find_node(lab, "r1");
  NlNode *r2 = nl_lab_find_node(lab, "r2");

  g_autofree char *cmdline = nl_domain_cmdline(lab, r1);
  TAP_OK(g_str_has_prefix(cmdline, "console=ttyS0 "), "console on ttyS0");
  TAP_OK(strstr(cmdline, " nokaslr") != NULL, "nokaslr, so gdb symbols match");
  TAP_OK(g_str_has_suffix(cmdline, " lab.append=1 node.append=1"),
         "LAB_APPEND then r1[append] end the command line: %s", cmdline);

  NlDomainSpec spec = {
      .domain = "r1",
      .emulator = "/usr/bin/qemu-system-x86_64",
      .kvm = FALSE,
      .kernel = "/cache/vmlinux",
      .initrd = "/cache/initramfs.cpio",
      .cmdline = "console=ttyS0",
      .statedir = "/run/netlab/two-12345678",
      .mem_mib = 128,
      .cpus = 2,
      .labdir = lab->dir,
      .have_shared = TRUE,
      .log = "/data/logs/r1.console.log",
  };
  g_autofree char *xml = nl_domain_xml(lab, r1, &spec);
  g_autofree char *want = expected("r1.xml", lab);
  TAP_STREQ(xml, want, "r1's domain XML under TCG");

  spec.domain = "netlab-two-12345678-r2";
  spec.kvm = TRUE;
  spec.have_shared = FALSE;
  spec.initrd = NULL;
  g_autofree char *xml2 = nl_domain_xml(lab, r2, &spec);
  TAP_OK(strstr(xml2, "<domain type='kvm'") != NULL, "KVM domain type");
  TAP_OK(strstr(xml2, "<tb-cache") == NULL, "no TCG cache setting under KVM");
  TAP_OK(strstr(xml2, "host-passthrough") != NULL, "the host's CPU under KVM");
  TAP_OK(strstr(xml2, "cpu-unavailable-features") == NULL,
         "libvirt's CPU check is left alone under KVM");
  TAP_OK(strstr(xml2, "<initrd>") == NULL, "no initrd when none is given");
  TAP_OK(strstr(xml2, "'shared'") == NULL, "no /shared without LABDIR/shared");

  /* The read-write share keeps a guest's owners, modes, device nodes and
   * symlinks in xattrs, never as real ones on the host. */
  TAP_OK(strstr(xml,
                "<filesystem type='mount' accessmode='mapped'>\n"
                "      <source dir='") != NULL &&
             strstr(xml, "<target dir='shared'/>\n    </filesystem>") != NULL,
         "shared/ is shared read-write in mapped mode");
  TAP_OK(strstr(xml, "accessmode='mapped' multidevs") == NULL &&
             strstr(xml,
                    "accessmode='squash' multidevs='remap'>\n      <source dir='/'/>\n"
                    "      <target dir='/dev/root'/>\n      <readonly/>") != NULL,
         "the host's root is shared read-only");
  /* An image's root: read-only, owners, modes and links from the xattrs
   * the cache keeps; the booted kernel's modules beside it. */
  NlDomainSpec img = spec;
  img.image_root = "/var/lib/netlab/images/roots/ab12/rootfs";
  img.modules = "/lib/modules/6.1.0-57-amd64";
  g_autofree char *xml_img = nl_domain_xml(lab, r1, &img);
  TAP_OK(strstr(xml_img,
                "<filesystem type='mount' accessmode='mapped'>\n"
                "      <source dir='/var/lib/netlab/images/roots/ab12/rootfs'/>\n"
                "      <target dir='/dev/root'/>\n      <readonly/>") &&
             !strstr(xml_img, "<source dir='/'/>"),
         "an image's root is shared read-only in mapped mode, not the host's");
  TAP_OK(strstr(xml_img,
                "accessmode='squash'>\n      <source dir='/lib/modules/6.1.0-57-amd64'/>\n"
                "      <target dir='modules'/>\n      <readonly/>") != NULL,
         "and the kernel's modules read-only");
  g_autoptr(GHashTable) img_conf = nl_guest_conf(r1, FALSE, "/a");
  nl_guest_conf_image(img_conf, TRUE);
  TAP_OK(g_str_has_suffix(g_hash_table_lookup(img_conf, "node.sh"), "NL_IMAGE=1\n") &&
             g_str_equal(g_hash_table_lookup(img_conf, "mounts"), "modules\n"),
         "the first stage is told: an image, and the modules share");
  spec.labdir = "/run/netlab/two-12345678/mnt/lab";
  spec.log = "/run/netlab/two-12345678/mnt/r2.console.log";
  spec.shared_ro = TRUE;
  gboolean had_shared = spec.have_shared;
  spec.have_shared = TRUE;
  g_autofree char *xml3 = nl_domain_xml(lab, r2, &spec);
  spec.have_shared = had_shared;
  TAP_OK(strstr(xml3,
                "<source dir='/run/netlab/two-12345678/mnt/lab'/>\n"
                "      <target dir='hostlab'/>\n      <readonly/>") != NULL,
         "the lab as QEMU reaches it, read-only");
  TAP_OK(strstr(xml3, "<target dir='shared'/>\n      <readonly/>") != NULL,
         "shared/ read-only when asked (no user xattrs)");
  TAP_OK(strstr(xml3, "<log file='/run/netlab/two-12345678/mnt/r2.console.log'") != NULL,
         "QEMU writes the console log where it is given");
  TAP_OK(strstr(xml2, "<name>netlab-two-12345678-r2</name>") != NULL, "domain name");
  TAP_OK(strstr(xml2, "&amp;") != NULL, "a lab path with '&' is escaped in XML");
  TAP_OK(strstr(xml2, "<disk") == NULL && strstr(cmdline, "netlab.disk") == NULL,
         "no disk, and no netlab.disk= for the first stage, without r1[disk]");

  r2->disk_mib = 256;
  spec.disk = "/data/disks/r2.qcow2";
  g_autofree char *xml_disk = nl_domain_xml(lab, r2, &spec);
  g_autofree char *cmdline2 = nl_domain_cmdline(lab, r2);
  TAP_OK(strstr(xml_disk,
                "<driver name='qemu' type='qcow2'/>\n"
                "      <source file='/data/disks/r2.qcow2'/>\n"
                "      <backingStore/>\n"
                "      <target dev='vda' bus='virtio'/>") != NULL,
         "a node's disk is a qcow2 virtio disk, vda, with no backing chain followed");
  TAP_OK(strstr(cmdline2, " netlab.disk=vda") != NULL, "and the first stage is told: %s", cmdline2);

  /* On another host: no share but the root, ports through libvirt, and a
   * NIC on a LAN that spans hosts plugged into its vxvde network. */
  char *urls[] = {NULL, "vxvde://239.1.2.3/v4/port=14789/vni=5/ttl=1"};
  NlDomainSpec far = spec;
  far.remote = TRUE;
  far.disk = NULL;
  far.have_shared = TRUE;
  far.nic_urls = urls;
  far.span_mtu = 1450;
  g_autofree char *xml_far = nl_domain_xml(lab, r1, &far);
  TAP_OK(strstr(xml_far, "<target dir='/dev/root'/>") && !strstr(xml_far, "'netlab'") &&
             !strstr(xml_far, "'hostlab'") && !strstr(xml_far, "'shared'"),
         "a remote node: the host's root, no configuration, lab or shared share");
  TAP_OK(strstr(xml_far, "<serial type='pty'><target port='0'/></serial>") &&
             strstr(xml_far,
                    "<channel type='unix'><source mode='bind'/>"
                    "<target type='virtio' name='netlab.ctl'/></channel>") &&
             !strstr(xml_far, "console.sock") && !strstr(xml_far, "-gdb"),
         "a remote node: pty serial ports, virtio ports libvirt names, no GDB stub");
  TAP_OK(strstr(xml_far, "sock=ptp:///run/netlab/two-12345678/nic/r1.0'") &&
             strstr(xml_far, "vde,id=nl1,sock=vxvde://239.1.2.3/v4/port=14789/vni=5/ttl=1'") &&
             strstr(xml_far, "addr=0x11,romfile=,guest_announce=off,host_mtu=1450'"),
         "eth0 on its wirefilter, eth1 on the vxvde network with the underlay's MTU less 50");

  g_autoptr(GHashTable) conf = nl_guest_conf(r1, TRUE, "/build/netlab-agent");
  TAP_STREQ(g_hash_table_lookup(conf, "node.sh"),
            "NL_NAME='r1'\nNL_MACS='52:54:00:12:34:56 02:00:00:00:00:b1'\n"
            "NL_AGENT='/build/netlab-agent'\n"
            "export GREETING='hello world'\n",
            "node.sh");
  /* Kathará's defaults first (r1 has two NICs and IPv6 off), then r1's. */
  TAP_STREQ(g_hash_table_lookup(conf, "sysctl"),
            "net.ipv4.ip_forward=1\nnet.ipv4.icmp_ratelimit=0\n"
            "net.ipv4.conf.all.rp_filter=0\nnet.ipv4.conf.default.rp_filter=0\n"
            "net.ipv4.conf.lo.rp_filter=0\n"
            "net.ipv4.conf.eth0.rp_filter=0\nnet.ipv4.conf.eth1.rp_filter=0\n"
            "net.ipv6.conf.default.disable_ipv6=1\nnet.ipv6.conf.all.disable_ipv6=1\n"
            "net.ipv6.conf.default.forwarding=0\nnet.ipv6.conf.all.forwarding=0\n"
            "net.ipv4.ip_forward=1\nnet.ipv6.conf.all.forwarding=1\n",
            "sysctl lines");
  TAP_STREQ(g_hash_table_lookup(conf, "exec"), "echo one\nip addr add 10.0.0.1/24 dev eth0\n",
            "exec lines");
  TAP_STREQ(g_hash_table_lookup(conf, "mounts"), "shared\n", "mounts");
  return tap_done();
}
