/* The lab model: what a lab directory describes, with no I/O of its own
 * beyond reading the lab's files. Every other part reads this model. */
#pragma once

#include <glib.h>

#include "hosts.h"
#include "impair.h"

/* What a node gets when lab.conf does not say. */
#define NL_DEFAULT_MEM_MIB 256
#define NL_DEFAULT_CPUS 1

/* Whether `up` may fetch a node's image (LAB_PULL_IMAGES, up --pull-images). */
typedef enum {
  NL_PULL_MISSING, /* what the cache lacks (the default) */
  NL_PULL_NEVER,   /* nothing: a missing image is an error */
  NL_PULL_ALWAYS,  /* every image again, for tags that moved */
} NlPullPolicy;

/* Where a thing was written down, for messages like "lab.conf:14: ...". */
typedef struct {
  const char *file; /* points into NlLab.conf_path or NlLab.dep_path */
  guint line;
} NlLoc;

typedef struct {
  guint index; /* ethN */
  char *lan;   /* collision domain name */
  guint8 mac[6];
  gboolean mac_given; /* from "LAN/MAC"; else derived, see nl_lab_load() */
  NlImpair impair;    /* from r1[link]="eth0 ...": set up with the lab */
  guint impair_line;  /* of that r1[link] line */
  NlLoc loc;
  /* A LAN of exactly two interfaces, both of nodes on this host, is a wire
   * (link.h), not a switch: which end this is (0 or 1; -1 on a switch's
   * LAN), and the other end, found before nl_lab_select() drops nodes. */
  int end;
  char *peer_node;
  guint peer_index;
  NlImpair peer_impair; /* the other end's r1[link] */
} NlNic;

typedef struct {
  char *name;        /* [a-z0-9_]{1,30} */
  GPtrArray *nics;   /* NlNic*, sorted by index, no gaps: nics[i]->index == i */
  guint mem_mib;     /* 0: netlab's default */
  guint cpus;        /* 0: netlab's default */
  GPtrArray *exec;   /* char*, r1[exec]=..., in file order */
  GPtrArray *sysctl; /* char*, "key=value", in file order */
  GPtrArray *env;    /* char*, "KEY=value", in file order */
  char *kernel;      /* r1[kernel]=, absolute path; NULL: the lab's */
  char *append;      /* r1[append]=, extra kernel command line */
  guint64 disk_mib;  /* r1[disk]= or LAB_DISK: a persistent disk; 0: tmpfs */
  NlLoc disk_loc;    /* where that size was given */
  gboolean disk_set; /* r1[disk] given (even "none"): LAB_DISK does not apply */
  gboolean ipv6;     /* r1[ipv6]=; off unless asked, as in Kathará */
  GPtrArray *deps;   /* char*, nodes that must be ready first (lab.dep) */
  GPtrArray *links;  /* r1[link]= lines, applied to nics once all are read */
  char *host;        /* r1[host]=, a name of LAB_HOSTS; NULL: where `up` runs */
  guint host_line;
  NlLoc loc; /* first mention */
  /* Kathará's bridged and port (uplink.c): a NIC after the lab's ones on a
   * NAT'd network of passt's, with these host ports forwarded to it. */
  gboolean bridged;     /* r1[bridged]="true", or a port given */
  NlLoc bridged_loc;    /* where */
  guint8 uplink_mac[6]; /* derived as the lab's NICs' MACs are */
  GArray *ports;        /* NlPort, r1[port]=, in file order */
  char *shell;          /* r1[shell]=: the console's shell; NULL: bash */
  int num_terms;        /* r1[num_terms]=: terminals `netlab tmux` opens; -1: not given (1) */
  GPtrArray *ulimits;   /* char*, r1[ulimit]= as prlimit(1) options, "--nofile=1024:2048" */
  char *image;          /* r1[image]= or LAB_IMAGE, as written; NULL: the host's root */
  NlLoc image_loc;      /* where it was named */
} NlNode;

/* One line of lab.ext, "LAN DEV[.VLAN]": LAN joined at layer 2 to the host's
 * interface DEV, or to its 802.1Q sub-interface for VLAN (wire/ext.h). */
typedef struct {
  char *lan;    /* a LAN of lab.conf */
  char *dev;    /* the host's interface, as written */
  guint vlan;   /* 1..4094; 0: none */
  char *ifname; /* what joins the LAN: DEV, or DEV.VLAN (DEV cut to fit 15 bytes, as Kathará) */
  guint ord;    /* the LAN's rank among lab.ext's LANs, by first line: names its bridge */
  NlLoc loc;
} NlExt;

/* r1[port]="[ADDR:]HOST:GUEST/PROTO" */
typedef struct {
  char addr[48]; /* the host address it listens on: 127.0.0.1 unless given */
  guint16 host, guest;
  gboolean udp; /* else TCP */
  guint line;
} NlPort;

typedef struct {
  char *dir;         /* absolute path of the lab directory */
  char *conf_path;   /* dir/lab.conf */
  char *dep_path;    /* dir/lab.dep */
  char *ext_path;    /* dir/lab.ext */
  char *name;        /* LAB_NAME, or NULL */
  char *description; /* LAB_DESCRIPTION */
  char *author;      /* LAB_AUTHOR */
  char *email;       /* LAB_EMAIL */
  char *web;         /* LAB_WEB */
  char *version;     /* LAB_VERSION */
  char *kernel;      /* LAB_KERNEL, absolute path, or NULL: the host's newest */
  char *append;      /* LAB_APPEND */
  guint64 disk_mib;  /* LAB_DISK: every node's disk unless it sets its own */
  guint disk_line;
  char *capture;       /* LAB_CAPTURE: LANs `netlab test` captures, by space */
  GPtrArray *hosts;    /* NlHost*, LAB_HOSTS, in order */
  NlUnderlay underlay; /* LAB_UNDERLAY */
  char *image;         /* LAB_IMAGE: every node's image unless it names its own */
  guint image_line;
  NlPullPolicy pull;   /* LAB_PULL_IMAGES */
  GPtrArray *nodes;    /* NlNode*, in order of first mention in lab.conf */
  GPtrArray *lans;     /* char*, collision domain names, sorted */
  GHashTable *by_name; /* node name -> NlNode*: nl_lab_find_node() in O(1) */
  GPtrArray *ext;      /* NlExt*, lab.ext's lines in file order (over the whole lab) */
  /* LAN -> NL_LAN_HERE | NL_LAN_AWAY (GUINT_TO_POINTER), where the nodes on
   * it run, over every node lab.conf has: nl_lab_select() keeps it, so a
   * lab started in parts wires each LAN as a whole one (span.h). */
  GHashTable *lan_where;
} NlLab;

#define NL_LAN_HERE 1u /* a node where `up` runs */
#define NL_LAN_AWAY 2u /* a node on another host (LAB_HOSTS) */

/* Reads DIR/lab.conf, DIR/lab.dep and DIR/lab.ext (both optional), each at most 16 MiB. On a bad lab returns NULL and
 * sets an NL_ERROR_INPUT error whose message holds every problem found, one per
 * line, each as "FILE:LINE: what is wrong". Warnings (unknown keys, which
 * Kathará ignores too) are appended to WARNINGS as "FILE:LINE: ..." strings.
 * MACs not given are derived from the lab's absolute path, the node name and
 * the interface index: locally administered, unicast, stable across runs. */
NlLab *nl_lab_load(const char *dir, GPtrArray *warnings, GError **error);
void nl_lab_free(NlLab *lab);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NlLab, nl_lab_free)

/* One lab.conf key, as its parser's table describes it: NODE[name]=VALUE
 * (nl_lab_node_key) or LAB_name=VALUE (nl_lab_lab_key). */
typedef struct {
  const char *name;
  gboolean list;    /* repeatable, each line adds one; else the last one wins */
  const char *def;  /* the default, as netlab-lab.conf(5) words it; NULL: none */
  const char *help; /* what it means: netlab-lab.conf(5) says it (tests/unit/docs.sh) */
} NlLabKey;

/* The Ith key of the table, NULL past its end. */
const NlLabKey *nl_lab_node_key(guint i);
const NlLabKey *nl_lab_lab_key(guint i);
/* FALSE for Kathará's options that netlab accepts and ignores. */
gboolean nl_lab_node_key_used(guint i);

/* The LAB_HOSTS entry named NAME, or NULL. */
const NlHost *nl_lab_find_host(const NlLab *lab, const char *name);

/* Keeps in LAB only the nodes KEEP names (NULL: every node) that DROP does
 * not name, and the LANs they use: the part of a lab that `up NODE...`,
 * `--exclude` and `restart` start. A name that is no node of the lab is an
 * NL_ERROR_INPUT error, and LAB is left as it was. */
gboolean nl_lab_select(NlLab *lab, const char *const *keep, const char *const *drop,
                       GError **error);
NlNode *nl_lab_find_node(const NlLab *lab, const char *name);

/* The interface SPEC names, "NODE:ethN", and its node in *NODE; NULL with an
 * NL_ERROR_INPUT error naming what is unknown. */
NlNic *nl_lab_find_nic(const NlLab *lab, const char *spec, const NlNode **node, GError **error);

/* Whether lab.ext connects LAN to the host: such a LAN is always a switch. */
gboolean nl_lab_lan_ext(const NlLab *lab, const char *lan);

/* "52:54:00:aa:bb:cc" into BUF (18 bytes). */
void nl_mac_format(const guint8 mac[6], char buf[18]);
