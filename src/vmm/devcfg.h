/* The devices' settings, typed: one struct per kind of device option of
 * `vmon run` (--disk, --net, --share, --vconsole, --rng, --balloon) and one
 * parser per kind from the option string. These parsers hold every check
 * and message a device option has: `vmon run` (vmm/devices.c), the VM
 * definitions of `vmon create` and the API (vmm/vmdef.c) and the disks a
 * live migration copies (snap/migdisk.c) all use them, so a bad option is
 * refused with the same words wherever it is given. Parsing opens nothing:
 * whether a file or an interface exists is for whoever opens the backend. */
#ifndef VMON_DEVCFG_H
#define VMON_DEVCFG_H
#include "backend/block.h"
#include "backend/net.h"
#include <stddef.h>
#include <stdint.h>

enum devcfg_kind {
    DEVCFG_DISK,
    DEVCFG_NET,
    DEVCFG_SHARE,
    DEVCFG_VCONSOLE,
    DEVCFG_RNG,
    DEVCFG_BALLOON,
    DEVCFG_NKINDS
};

#define DEVCFG_PATH_MAX 4096 /* bytes of a file or directory name, NUL included */
#define DISK_SERIAL_MAX 20   /* virtio-blk's device ID (virtio 1.2 5.2.6) */
#define SHARE_TAG_MAX   64   /* virtio-9p's mount tag */
#define VCON_SOCKET_MAX 107  /* a unix socket's path (sun_path, less its NUL) */
#define NET_IFNAME_MAX  15   /* IFNAMSIZ less its NUL */

/* --disk FILE[,ro][,format=raw|qcow2][,serial=STR] (",," is a comma in FILE) */
struct disk_cfg {
    char file[DEVCFG_PATH_MAX];
    int ro;
    enum blk_format fmt;              /* BLK_FMT_PROBE unless format= */
    char serial[DISK_SERIAL_MAX + 1]; /* serial=, or the file's base name */
};

/* --net user[,hostfwd=RULE...][,mac=MAC] | tap[,ifname=NAME][,mac=MAC] */
struct net_cfg {
    int tap;
    int has_mac; /* otherwise the board's slot picks one (devcfg_default_mac) */
    uint8_t mac[6];
    struct net_hostfwd fwd[NET_HOSTFWD_MAX]; /* user */
    unsigned nfwd;
    char ifname[NET_IFNAME_MAX + 1]; /* tap: "" makes a new one */
};

/* --share DIR,tag=TAG[,ro] (",," is a comma in DIR) */
struct share_cfg {
    char dir[DEVCFG_PATH_MAX];
    char tag[SHARE_TAG_MAX + 1];
    int ro;
};

/* --vconsole FILE | file=FILE | socket=PATH */
struct vconsole_cfg {
    int socket; /* path is a unix socket to listen on, else a file to write */
    char path[DEVCFG_PATH_MAX];
};

/* One device option; --rng and --balloon have no settings. */
struct dev_cfg {
    enum devcfg_kind kind;
    union {
        struct disk_cfg disk;
        struct net_cfg net;
        struct share_cfg share;
        struct vconsole_cfg vconsole;
    };
};

/* Each returns 0, or -1 with the message in err (without the option's
 * name: callers prefix "--disk SPEC: "). */
int devcfg_parse_disk(const char *spec, struct disk_cfg *c, char *err, size_t errlen);
int devcfg_parse_net(const char *spec, struct net_cfg *c, char *err, size_t errlen);
int devcfg_parse_share(const char *spec, struct share_cfg *c, char *err, size_t errlen);
int devcfg_parse_vconsole(const char *spec, struct vconsole_cfg *c, char *err, size_t errlen);
/* Any kind: --rng and --balloon take no options (spec "" or NULL). */
int devcfg_parse(enum devcfg_kind kind, const char *spec, struct dev_cfg *c, char *err,
                 size_t errlen);
/* The same, for checking only (a definition's list entries). */
int devcfg_check(enum devcfg_kind kind, const char *spec, char *err, size_t errlen);

/* The option's name ("--disk"). */
const char *devcfg_opt(enum devcfg_kind kind);

/* A MAC for a --net without mac=: locally administered, fixed per
 * virtio-mmio slot, 52:54:00:12:34:56 + slot. */
void devcfg_default_mac(unsigned slot, uint8_t mac[6]);
#endif
