#include "ext.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/link/vlan.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "span.h"
#include "util.h"

typedef struct nl_sock NlSock;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlSock, nl_socket_free)
typedef struct rtnl_link NlLink;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlLink, rtnl_link_put)
typedef struct nl_msg NlMsg;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlMsg, nlmsg_free)

/* What a record of STATE/ext says netlab did to an interface. */
#define REC_BRIDGE "bridge\n"
#define REC_TAP "tap\n"
#define REC_VLAN "vlan\n"
#define REC_PORT_UP "port up\n"     /* the user's, up before */
#define REC_PORT_DOWN "port down\n" /* the user's, down before: down again */

static gboolean have_net_admin(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
  return syscall(SYS_capget, &h, d) == 0 && (d[0].effective & (1u << CAP_NET_ADMIN));
}

static gboolean nl_fail(GError **error, int err, const char *what, const char *name) {
  g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "cannot %s '%s': %s", what, name, nl_geterror(err));
  return FALSE;
}

static NlSock *rtnl_open(GError **error) {
  g_autoptr(NlSock) sk = nl_socket_alloc();
  int err = sk ? nl_connect(sk, NETLINK_ROUTE) : -NLE_NOMEM;
  if (err < 0) {
    nl_fail(error, err, "open", "rtnetlink");
    return NULL;
  }
  return g_steal_pointer(&sk);
}

/* The interface NAME, or NULL if there is none. */
static NlLink *link_get(NlSock *sk, const char *name) {
  NlLink *l = NULL;
  return rtnl_link_get_kernel(sk, 0, name, &l) < 0 ? NULL : l;
}

/* The name of the interface of index IFINDEX into BUF, "" if none. */
static const char *link_name(NlSock *sk, int ifindex, char buf[IFNAMSIZ]) {
  g_autoptr(NlLink) l = NULL;
  buf[0] = '\0';
  if (ifindex > 0 && rtnl_link_get_kernel(sk, ifindex, NULL, &l) >= 0)
    g_strlcpy(buf, rtnl_link_get_name(l), IFNAMSIZ);
  return buf;
}

static gboolean link_set_up(NlSock *sk, NlLink *l, gboolean up, GError **error) {
  g_autoptr(NlLink) change = rtnl_link_alloc();
  if (up)
    rtnl_link_set_flags(change, IFF_UP);
  else
    rtnl_link_unset_flags(change, IFF_UP);
  int err = rtnl_link_change(sk, l, change, 0);
  return err >= 0 || nl_fail(error, err, up ? "bring up" : "bring down", rtnl_link_get_name(l));
}

/* No IPv6 address on netlab's own interfaces (best effort: the host may
 * have no IPv6): else the host's link-local address on the bridge and the
 * tap sends solicitations into the lab's LAN, which the lab did not ask
 * for. The host speaks there only through its own interface. */
static void quiet_ipv6(NlSock *sk, NlLink *l) {
  g_autoptr(NlLink) change = rtnl_link_alloc();
  rtnl_link_inet6_set_addr_gen_mode(change, rtnl_link_inet6_str2addrgenmode("none"));
  rtnl_link_change(sk, l, change, 0);
}

/* "nl" + the last 8 hex of the lab's ID (state.h's: it hashes the lab's
 * path) + KIND + the LAN's rank: at most 15 bytes, unique per lab. */
static char *id_name(const char *id, char kind, guint ord) {
  gsize len = strlen(id);
  return g_strdup_printf("nl%.8s%c%x", id + (len > 8 ? len - 8 : 0), kind, ord);
}

static char *ext_name(const NlState *st, char kind, guint ord) {
  return id_name(st->id, kind, ord);
}

/* "nlXXXXXXXXb": the start of the names of the bridges of the lab of ID. */
static char *bridge_prefix(const char *id) {
  char *name = id_name(id, 'b', 0);
  name[strlen(name) - 1] = '\0';
  return name;
}

static const NlExt *first_ext(const NlLab *lab, const char *lan) {
  for (guint i = 0; i < lab->ext->len; i++) {
    const NlExt *e = lab->ext->pdata[i];
    if (g_str_equal(e->lan, lan)) return e;
  }
  return NULL;
}

/* Written before the interface is made or changed: `down` after a crash
 * finds it. KEEP: a record already there says more (an interface two lines
 * share, or that netlab made). */
static gboolean record(const NlState *st, const char *ifname, const char *what, gboolean keep,
                       GError **error) {
  g_autofree char *dir = nl_layout_ext(st->dir);
  g_autofree char *path = g_build_filename(dir, ifname, NULL);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return nl_set_errno(error, errno, "%s", dir);
  if (keep && g_file_test(path, G_FILE_TEST_EXISTS)) return TRUE;
  return nl_write_file(path, what, -1, 0600, error);
}

static void unrecord(const NlState *st, const char *ifname) {
  g_autofree char *dir = nl_layout_ext(st->dir);
  g_autofree char *path = g_build_filename(dir, ifname, NULL);
  unlink(path);
}

/* ---- check -------------------------------------------------------------- */

/* What keeps E from being connected, or NULL. */
static char *check_one(NlSock *sk, const NlLab *lab, const NlExt *e) {
  if (!have_net_admin())
    return g_strdup_printf(
        "connecting '%s' to the host's '%s' needs CAP_NET_ADMIN: run netlab "
        "as root",
        e->lan, e->ifname);
  if (!nl_lan_here(lab, e->lan))
    return g_strdup_printf(
        "no node on '%s' runs on this host: netlab connects a LAN to this "
        "host's interfaces only through its switch here",
        e->lan);
  g_autoptr(NlLink) dev = link_get(sk, e->dev);
  if (!dev) return g_strdup_printf("no interface '%s' on this host", e->dev);
  g_autoptr(NlLink) sub = e->vlan ? link_get(sk, e->ifname) : NULL;
  NlLink *port = e->vlan ? sub : dev;
  char master[IFNAMSIZ];
  /* In a bridge of this lab's own: a node restarted in a lab that is up. */
  g_autofree char *id = nl_layout_lab_id(lab->dir);
  g_autofree char *ours = bridge_prefix(id);
  if (port && rtnl_link_get_master(port) > 0 &&
      !g_str_has_prefix(link_name(sk, rtnl_link_get_master(port), master), ours))
    return g_strdup_printf("interface '%s' is already a port of '%s'", e->ifname, master);
  return NULL;
}

gboolean nl_ext_check(const NlLab *lab, GError **error) {
  if (!lab->ext->len) return TRUE;
  g_autoptr(NlSock) sk = rtnl_open(error);
  if (!sk) return FALSE;
  g_autoptr(GString) problems = g_string_new(NULL);
  for (guint i = 0; i < lab->ext->len; i++) {
    const NlExt *e = lab->ext->pdata[i];
    /* A LAN of nodes that this `up` does not start (partial.h). */
    if (!g_ptr_array_find_with_equal_func(lab->lans, e->lan, g_str_equal, NULL)) continue;
    g_autofree char *why = check_one(sk, lab, e);
    if (why)
      g_string_append_printf(problems, "%s%s:%u: %s", problems->len ? "\n" : "", e->loc.file,
                             e->loc.line, why);
  }
  if (!problems->len) return TRUE;
  g_set_error_literal(error, NL_ERROR, NL_ERROR_INPUT, problems->str);
  return FALSE;
}

/* ---- up ----------------------------------------------------------------- */

/* A persistent tap owned by QU: the switch, unprivileged, opens it by
 * name (TUNSETIFF on a tap it owns needs no capability). */
static gboolean tap_make(const char *name, const NlQemuUser *qu, GError **error) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return nl_set_errno(error, errno, "cannot open /dev/net/tun for the tap '%s'", name);
  struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
  g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
  gboolean ok =
      ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETOWNER, (unsigned long)qu->uid) == 0 &&
      ioctl(fd, TUNSETGROUP, (unsigned long)qu->gid) == 0 && ioctl(fd, TUNSETPERSIST, 1UL) == 0;
  int e = errno;
  close(fd);
  return ok || nl_set_errno(error, e, "cannot create the tap '%s'", name);
}

char *nl_ext_tap_create(const NlState *st, const NlQemuUser *qu, const NlLab *lab, const char *lan,
                        GError **error) {
  const NlExt *e = first_ext(lab, lan);
  if (!e) return NULL;
  g_autofree char *tap = ext_name(st, 't', e->ord);
  if (!record(st, tap, REC_TAP, FALSE, error) || !tap_make(tap, qu, error)) return NULL;
  return g_steal_pointer(&tap);
}

/* A bridge that forwards at once: no STP (the lab's own bridges may run
 * it), no forward delay. libnl has no setter for either: the request is
 * made here. */
static gboolean bridge_make(NlSock *sk, const char *name, GError **error) {
  g_autoptr(NlMsg) msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  struct nlattr *info = NULL, *data = NULL;
  if (!msg || nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
      nla_put_string(msg, IFLA_IFNAME, name) < 0 || !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
      nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 ||
      !(data = nla_nest_start(msg, IFLA_INFO_DATA)) || nla_put_u32(msg, IFLA_BR_STP_STATE, 0) < 0 ||
      nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, 0) < 0)
    return nl_fail(error, -NLE_NOMEM, "create the bridge", name);
  nla_nest_end(msg, data);
  nla_nest_end(msg, info);
  /* nl_send_sync() frees the message, whatever happens. */
  int err = nl_send_sync(sk, g_steal_pointer(&msg));
  return err >= 0 || nl_fail(error, err, "create the bridge", name);
}

/* E's sub-interface DEV.VLAN, made if missing (and then recorded as
 * netlab's); its parent brought up if it was down. */
static gboolean vlan_ensure(const NlState *st, NlSock *sk, const NlExt *e, GError **error) {
  g_autoptr(NlLink) dev = link_get(sk, e->dev);
  if (!dev) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "no interface '%s' on this host", e->dev);
    return FALSE;
  }
  if (!(rtnl_link_get_flags(dev) & IFF_UP) &&
      !(record(st, e->dev, REC_PORT_DOWN, TRUE, error) && link_set_up(sk, dev, TRUE, error)))
    return FALSE;
  g_autoptr(NlLink) sub = link_get(sk, e->ifname);
  if (sub) return TRUE;
  if (!record(st, e->ifname, REC_VLAN, FALSE, error)) return FALSE;
  g_autoptr(NlLink) v = rtnl_link_vlan_alloc();
  rtnl_link_set_name(v, e->ifname);
  rtnl_link_set_link(v, rtnl_link_get_ifindex(dev));
  rtnl_link_vlan_set_id(v, e->vlan);
  int err = rtnl_link_add(sk, v, NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) {
    /* Made by someone else meanwhile: the user's, not netlab's. */
    unrecord(st, e->ifname);
    return TRUE;
  }
  if (err == -NLE_OPNOTSUPP) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED,
                "cannot create the VLAN interface '%s': the host's kernel has no 802.1Q support "
                "(module 8021q)",
                e->ifname);
    return FALSE;
  }
  return err >= 0 || nl_fail(error, err, "create the VLAN interface", e->ifname);
}

/* IFNAME into BRIDGE, up. A user's interface is recorded as it was. */
static gboolean enslave(const NlState *st, NlSock *sk, const char *ifname, NlLink *bridge,
                        gboolean users, GError **error) {
  g_autoptr(NlLink) l = link_get(sk, ifname);
  if (!l) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "no interface '%s' on this host", ifname);
    return FALSE;
  }
  gboolean was_up = rtnl_link_get_flags(l) & IFF_UP;
  if (users && !record(st, ifname, was_up ? REC_PORT_UP : REC_PORT_DOWN, TRUE, error)) return FALSE;
  int err = rtnl_link_enslave(sk, bridge, l);
  if (err < 0) return nl_fail(error, err, "add to its bridge the interface", ifname);
  if (!users) quiet_ipv6(sk, l);
  return was_up || link_set_up(sk, l, TRUE, error);
}

static gboolean connect_one(const NlState *st, NlSock *sk, const NlExt *e, NlLink *bridge,
                            GError **error) {
  if (e->vlan && !vlan_ensure(st, sk, e, error)) return FALSE;
  /* A sub-interface netlab made is deleted by `down`: no state to keep. */
  g_autofree char *dir = nl_layout_ext(st->dir);
  g_autofree char *path = g_build_filename(dir, e->ifname, NULL);
  g_autofree char *rec = NULL;
  gboolean ours = g_file_get_contents(path, &rec, NULL, NULL) && g_str_equal(rec, REC_VLAN);
  return enslave(st, sk, e->ifname, bridge, !ours, error);
}

gboolean nl_ext_connect(const NlState *st, const NlLab *lab, const char *lan, GError **error) {
  const NlExt *first = first_ext(lab, lan);
  if (!first) return TRUE;
  g_autoptr(NlSock) sk = rtnl_open(error);
  if (!sk) return FALSE;
  g_autofree char *br = ext_name(st, 'b', first->ord);
  g_autofree char *tap = ext_name(st, 't', first->ord);
  g_autoptr(GString) names = g_string_new(NULL);
  if (!record(st, br, REC_BRIDGE, FALSE, error) || !bridge_make(sk, br, error)) return FALSE;
  g_autoptr(NlLink) bridge = link_get(sk, br);
  if (!bridge) return nl_fail(error, -NLE_OBJ_NOTFOUND, "find the bridge", br);
  if (!enslave(st, sk, tap, bridge, FALSE, error)) return FALSE;
  for (guint i = 0; i < lab->ext->len; i++) {
    const NlExt *e = lab->ext->pdata[i];
    g_autoptr(GError) local = NULL;
    if (!g_str_equal(e->lan, lan)) continue;
    g_string_append_printf(names, "%s\n", e->ifname);
    if (connect_one(st, sk, e, bridge, &local)) continue;
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "%s:%u: %s", e->loc.file, e->loc.line,
                local->message);
    return FALSE;
  }
  /* For `status` (NL_EXT_KEY). */
  g_autofree char *key = g_strconcat(NL_EXT_KEY, lan, NULL);
  quiet_ipv6(sk, bridge);
  return link_set_up(sk, bridge, TRUE, error) && nl_state_set(st, key, names->str, error);
}

/* ---- down --------------------------------------------------------------- */

/* The user's IFNAME leaves netlab's bridge (a bridge of this lab: named
 * PREFIX...), and goes down again if it was. */
static void restore_port(NlSock *sk, const char *ifname, const char *rec, const char *prefix,
                         GPtrArray *notes) {
  g_autoptr(NlLink) l = link_get(sk, ifname);
  char master[IFNAMSIZ];
  if (!l) return;
  int err = 0;
  if (g_str_has_prefix(link_name(sk, rtnl_link_get_master(l), master), prefix))
    err = rtnl_link_release(sk, l);
  if (err < 0)
    g_ptr_array_add(notes, g_strdup_printf("cannot take '%s' out of the bridge '%s': %s", ifname,
                                           master, nl_geterror(err)));
  g_autoptr(GError) e = NULL;
  if (g_str_equal(rec, REC_PORT_DOWN) && (rtnl_link_get_flags(l) & IFF_UP) &&
      !link_set_up(sk, l, FALSE, &e))
    g_ptr_array_add(notes, g_strdup(e->message));
}

static void delete_link(NlSock *sk, const char *ifname, GPtrArray *notes) {
  g_autoptr(NlLink) l = link_get(sk, ifname);
  int err = l ? rtnl_link_delete(sk, l) : 0;
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
    g_ptr_array_add(notes, g_strdup_printf("cannot delete '%s': %s", ifname, nl_geterror(err)));
}

void nl_ext_down(const NlState *st, GPtrArray *notes) {
  g_autofree char *dir = nl_layout_ext(st->dir);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (!d) return;
  g_autoptr(GError) local = NULL;
  g_autoptr(NlSock) sk = rtnl_open(&local);
  if (!sk) {
    g_ptr_array_add(notes, g_strdup(local->message));
    return;
  }
  g_autofree char *bridges = bridge_prefix(st->id);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while ((n = g_dir_read_name(d))) g_ptr_array_add(names, g_strdup(n));
  /* The user's interfaces first, out of the bridges, then netlab's go. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < names->len; i++) {
      g_autofree char *path = g_build_filename(dir, names->pdata[i], NULL);
      g_autofree char *rec = NULL;
      if (!g_file_get_contents(path, &rec, NULL, NULL)) continue;
      gboolean port = g_str_has_prefix(rec, "port ");
      if (port != (pass == 0)) continue;
      if (port)
        restore_port(sk, names->pdata[i], rec, bridges, notes);
      else
        delete_link(sk, names->pdata[i], notes);
      unlink(path);
    }
  rmdir(dir);
}

char *nl_ext_describe(const NlExt *e) {
  if (!e->vlan) return g_strdup_printf("%s: joined to the host's %s", e->lan, e->ifname);
  return g_strdup_printf("%s: joined to the host's %s (VLAN %u on %s, made if missing)", e->lan,
                         e->ifname, e->vlan, e->dev);
}
