/* Device options parsed into typed settings: see devcfg.h. */
#include "vmm/devcfg.h"
#include "vmm/opts.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- --disk ---- */

/* Default serial: the file's base name, printable ASCII, at most 20 bytes. */
static void default_serial(const char *file, char *out)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (!*base) base = "disk";
    size_t n = 0;
    for (; base[n] && n < DISK_SERIAL_MAX; n++) {
        char c = base[n];
        out[n] = (c > 0x20 && c < 0x7f) ? c : '_';
    }
    out[n] = 0;
}

static int disk_serial(const char *sr, struct disk_cfg *c, char *err, size_t errlen)
{
    size_t sl = strlen(sr);
    if (sl == 0 || sl > DISK_SERIAL_MAX) {
        snprintf(err, errlen, "serial must be 1 to %d characters (got %zu)", DISK_SERIAL_MAX, sl);
        return -1;
    }
    if (!opt_printable(sr, DISK_SERIAL_MAX)) {
        snprintf(err, errlen, "serial may only contain printable ASCII characters");
        return -1;
    }
    memcpy(c->serial, sr, sl + 1);
    return 0;
}

static int disk_option(const char *opt, struct disk_cfg *c, int *has_serial, char *err,
                       size_t errlen)
{
    if (!strcmp(opt, "ro")) {
        c->ro = 1;
    } else if (!strcmp(opt, "rw")) {
        c->ro = 0;
    } else if (!strncmp(opt, "format=", 7)) {
        if (blk_parse_format(opt + 7, &c->fmt) < 0) {
            snprintf(err, errlen, "unknown format '%s' (want raw or qcow2)", opt + 7);
            return -1;
        }
    } else if (!strncmp(opt, "serial=", 7)) {
        if (disk_serial(opt + 7, c, err, errlen) < 0) return -1;
        *has_serial = 1;
    } else {
        snprintf(err, errlen, "unknown disk option '%s' (want ro, format=raw|qcow2 or serial=STR)",
                 opt);
        return -1;
    }
    return 0;
}

/* The path a device option starts with, into buf: 0, or -1 with err
 * naming what (file, directory) is missing or too long and the form
 * wanted. */
static int leading_path(const char **p, char *buf, size_t size, const char *what, const char *form,
                        char *err, size_t errlen)
{
    long n = opt_leading_path(p, buf, size);
    if (n < 0)
        snprintf(err, errlen, "%s name too long", what);
    else if (!n)
        snprintf(err, errlen, "no %s given (want %s)", what, form);
    return n > 0 ? 0 : -1;
}

int devcfg_parse_disk(const char *spec, struct disk_cfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    const char *p = spec ? spec : "";
    if (leading_path(&p, c->file, sizeof(c->file), "file",
                     "FILE[,ro][,format=raw|qcow2][,serial=STR]", err, errlen) < 0)
        return -1;
    char opt[256];
    int r, has_serial = 0;
    while ((r = opt_next(&p, opt, sizeof(opt))) != 0) {
        if (r < 0) {
            snprintf(err, errlen, "option too long");
            return -1;
        }
        if (disk_option(opt, c, &has_serial, err, errlen) < 0) return -1;
    }
    if (!has_serial) default_serial(c->file, c->serial);
    return 0;
}

/* ---- --net ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "52:54:00:12:34:56": six hex bytes, unicast, not all zero. */
static int parse_mac(const char *s, uint8_t mac[6], char *err, size_t errlen)
{
    int ok = strlen(s) == 17;
    for (int i = 0; ok && i < 6; i++) {
        int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
            ok = 0;
        else
            mac[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!ok) {
        snprintf(err, errlen, "bad MAC '%s' (want six hex bytes like 52:54:00:12:34:56)", s);
        return -1;
    }
    if (mac[0] & 1) {
        snprintf(err, errlen, "bad MAC '%s': a multicast address (first byte must be even)", s);
        return -1;
    }
    if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
        snprintf(err, errlen, "bad MAC '%s': all zeros", s);
        return -1;
    }
    return 0;
}

/* Decimal port 1..65535 in s[0..len). */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535) return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Dotted IPv4 address in s[0..len), or def when empty. */
static int parse_addr(const char *s, size_t len, const char *def, struct in_addr *out)
{
    char buf[INET_ADDRSTRLEN];
    if (len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return inet_pton(AF_INET, len ? buf : def, out) == 1 ? 0 : -1;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT; the host address
 * is 127.0.0.1 and the guest's 10.0.2.15 (slirp's first DHCP lease) unless
 * given. */
static int parse_hostfwd(const char *v, struct net_hostfwd *h, char *err, size_t errlen)
{
    static const char usage[] = "want [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT";
    memset(h, 0, sizeof(*h));
    const char *c1 = strchr(v, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *dash = c2 ? strchr(c2 + 1, '-') : NULL;
    const char *c3 = dash ? strchr(dash + 1, ':') : NULL;
    if (!c3 || strchr(c3 + 1, ':') || strchr(c3 + 1, '-')) {
        snprintf(err, errlen, "bad hostfwd '%s' (%s)", v, usage);
        return -1;
    }
    size_t plen = (size_t)(c1 - v);
    if (plen == 0 || (plen == 3 && !strncmp(v, "tcp", 3))) {
        h->udp = 0;
    } else if (plen == 3 && !strncmp(v, "udp", 3)) {
        h->udp = 1;
    } else {
        snprintf(err, errlen, "bad hostfwd '%s': protocol must be tcp or udp", v);
        return -1;
    }
    size_t hlen = (size_t)(c2 - c1 - 1);
    if (parse_addr(c1 + 1, hlen, "127.0.0.1", &h->haddr) < 0) {
        snprintf(err, errlen, "bad hostfwd '%s': bad host address '%.*s'", v, (int)hlen, c1 + 1);
        return -1;
    }
    snprintf(h->hstr, sizeof(h->hstr), "%.*s", (int)hlen, c1 + 1);
    if (parse_port(c2 + 1, (size_t)(dash - c2 - 1), &h->hport) < 0) {
        snprintf(err, errlen, "bad hostfwd '%s': bad host port '%.*s' (want 1..65535)", v,
                 (int)(dash - c2 - 1), c2 + 1);
        return -1;
    }
    size_t glen = (size_t)(c3 - dash - 1);
    if (parse_addr(dash + 1, glen, "10.0.2.15", &h->gaddr) < 0) {
        snprintf(err, errlen, "bad hostfwd '%s': bad guest address '%.*s'", v, (int)glen, dash + 1);
        return -1;
    }
    if (parse_port(c3 + 1, strlen(c3 + 1), &h->gport) < 0) {
        snprintf(err, errlen, "bad hostfwd '%s': bad guest port '%s' (want 1..65535)", v, c3 + 1);
        return -1;
    }
    return 0;
}

/* A tap interface name: 1..15 characters, no '/', ':', spaces or controls. */
static int tap_ifname(const char *v, struct net_cfg *c, char *err, size_t errlen)
{
    size_t len = strlen(v);
    int ok = len > 0 && len <= NET_IFNAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        if (v[i] == '/' || v[i] == ':' || v[i] <= ' ' || v[i] == 0x7f) ok = 0;
    if (!ok) {
        snprintf(err, errlen, "bad tap ifname '%s' (1..%d characters, no '/', ':' or spaces)", v,
                 NET_IFNAME_MAX);
        return -1;
    }
    memcpy(c->ifname, v, len + 1);
    return 0;
}

/* One option after the type: mac= for both, hostfwd= (user), ifname= (tap). */
static int net_option(char *tok, struct net_cfg *c, char *err, size_t errlen)
{
    if (!strncmp(tok, "mac=", 4)) {
        if (c->has_mac) {
            snprintf(err, errlen, "mac= given twice");
            return -1;
        }
        if (parse_mac(tok + 4, c->mac, err, errlen) < 0) return -1;
        c->has_mac = 1;
    } else if (!c->tap && !strncmp(tok, "hostfwd=", 8)) {
        if (c->nfwd >= NET_HOSTFWD_MAX) {
            snprintf(err, errlen, "too many hostfwd rules (at most %d)", NET_HOSTFWD_MAX);
            return -1;
        }
        if (parse_hostfwd(tok + 8, &c->fwd[c->nfwd], err, errlen) < 0) return -1;
        c->nfwd++;
    } else if (c->tap && !strncmp(tok, "ifname=", 7)) {
        return tap_ifname(tok + 7, c, err, errlen);
    } else if (c->tap) {
        snprintf(err, errlen, "unknown option '%s' for tap (known: ifname=, mac=)", tok);
        return -1;
    } else {
        snprintf(err, errlen, "unknown option '%s' for user networking (known: hostfwd=, mac=)",
                 tok);
        return -1;
    }
    return 0;
}

static int net_type(const char *type, struct net_cfg *c, char *err, size_t errlen)
{
    static const char usage[] =
        "want user[,hostfwd=tcp::HOSTPORT-:GUESTPORT...][,mac=MAC] or tap,ifname=NAME[,mac=MAC]";
    if (!*type || strchr(type, '=')) {
        snprintf(err, errlen, "missing network type (%s)", usage);
        return -1;
    }
    if (strcmp(type, "user") && strcmp(type, "tap")) {
        snprintf(err, errlen, "unknown network type '%s' (%s)", type, usage);
        return -1;
    }
    c->tap = !strcmp(type, "tap");
    return 0;
}

int devcfg_parse_net(const char *spec, struct net_cfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    char *copy = strdup(spec ? spec : "");
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *rest = strchr(copy, ',');
    if (rest) *rest++ = 0;
    int r = net_type(copy, c, err, errlen);
    char *save = NULL;
    for (char *tok = rest ? strtok_r(rest, ",", &save) : NULL; r == 0 && tok;
         tok = strtok_r(NULL, ",", &save))
        r = net_option(tok, c, err, errlen);
    free(copy);
    return r;
}

void devcfg_default_mac(unsigned slot, uint8_t mac[6])
{
    const uint8_t def[6] = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + slot)};
    memcpy(mac, def, 6);
}

/* ---- --share ---- */

static int share_tag(const char *tag, struct share_cfg *c, char *err, size_t errlen)
{
    size_t tl = strlen(tag);
    if (tl == 0 || tl > SHARE_TAG_MAX) {
        snprintf(err, errlen, "tag must be 1 to %d characters (got %zu)", SHARE_TAG_MAX, tl);
        return -1;
    }
    if (!opt_printable(tag, SHARE_TAG_MAX)) {
        snprintf(err, errlen, "tag may only contain printable ASCII characters without spaces");
        return -1;
    }
    memcpy(c->tag, tag, tl + 1);
    return 0;
}

int devcfg_parse_share(const char *spec, struct share_cfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    const char *p = spec ? spec : "";
    if (leading_path(&p, c->dir, sizeof(c->dir), "directory", "DIR,tag=TAG[,ro]", err, errlen) < 0)
        return -1;
    char opt[4096];
    int r;
    while ((r = opt_next(&p, opt, sizeof(opt))) != 0) {
        if (r < 0) {
            snprintf(err, errlen, "option too long");
            return -1;
        }
        if (!strcmp(opt, "ro")) {
            c->ro = 1;
        } else if (!strcmp(opt, "rw")) {
            c->ro = 0;
        } else if (!strncmp(opt, "tag=", 4)) {
            if (share_tag(opt + 4, c, err, errlen) < 0) return -1;
        } else {
            snprintf(err, errlen, "unknown share option '%.64s' (want tag=TAG or ro)", opt);
            return -1;
        }
    }
    if (!c->tag[0]) {
        snprintf(err, errlen, "missing tag=TAG (the name the guest mounts)");
        return -1;
    }
    return 0;
}

/* ---- --vconsole ---- */

static int vcon_path(const char *path, int socket, struct vconsole_cfg *c, char *err, size_t errlen)
{
    size_t len = strlen(path);
    if (!len) {
        snprintf(err, errlen,
                 socket ? "empty socket path (want socket=PATH)"
                        : "empty file name (want FILE or socket=PATH)");
        return -1;
    }
    if (socket && len > VCON_SOCKET_MAX) {
        snprintf(err, errlen, "socket path too long (%zu bytes, at most %d)", len, VCON_SOCKET_MAX);
        return -1;
    }
    if (len >= sizeof(c->path)) {
        snprintf(err, errlen, "file name too long (%zu bytes, at most %zu)", len,
                 sizeof(c->path) - 1);
        return -1;
    }
    c->socket = socket;
    memcpy(c->path, path, len + 1);
    return 0;
}

int devcfg_parse_vconsole(const char *spec, struct vconsole_cfg *c, char *err, size_t errlen)
{
    static const char usage[] = "want FILE, file=FILE or socket=PATH";
    memset(c, 0, sizeof(*c));
    if (!spec || !*spec) {
        snprintf(err, errlen, "missing argument (%s)", usage);
        return -1;
    }
    /* "key=value" with a key made of letters is an option; anything else
     * is a file name. */
    const char *eq = strchr(spec, '=');
    size_t kl = eq ? (size_t)(eq - spec) : 0;
    int is_key = eq && kl > 0;
    for (size_t i = 0; is_key && i < kl; i++)
        if (!((spec[i] >= 'a' && spec[i] <= 'z') || (spec[i] >= 'A' && spec[i] <= 'Z'))) is_key = 0;
    if (is_key && kl == 6 && !strncmp(spec, "socket", 6))
        return vcon_path(eq + 1, 1, c, err, errlen);
    if (is_key && kl == 4 && !strncmp(spec, "file", 4)) return vcon_path(eq + 1, 0, c, err, errlen);
    if (is_key) {
        snprintf(err, errlen, "unknown option '%.*s' (%s)", (int)(kl > 32 ? 32 : kl), spec, usage);
        return -1;
    }
    return vcon_path(spec, 0, c, err, errlen);
}

/* ---- any kind ---- */

static const char *const opt_names[DEVCFG_NKINDS] = {
    [DEVCFG_DISK] = "--disk",         [DEVCFG_NET] = "--net", [DEVCFG_SHARE] = "--share",
    [DEVCFG_VCONSOLE] = "--vconsole", [DEVCFG_RNG] = "--rng", [DEVCFG_BALLOON] = "--balloon",
};

const char *devcfg_opt(enum devcfg_kind kind)
{
    return (unsigned)kind < DEVCFG_NKINDS ? opt_names[kind] : "?";
}

int devcfg_parse(enum devcfg_kind kind, const char *spec, struct dev_cfg *c, char *err,
                 size_t errlen)
{
    c->kind = kind;
    switch (kind) {
    case DEVCFG_DISK: return devcfg_parse_disk(spec, &c->disk, err, errlen);
    case DEVCFG_NET: return devcfg_parse_net(spec, &c->net, err, errlen);
    case DEVCFG_SHARE: return devcfg_parse_share(spec, &c->share, err, errlen);
    case DEVCFG_VCONSOLE: return devcfg_parse_vconsole(spec, &c->vconsole, err, errlen);
    case DEVCFG_RNG:
    case DEVCFG_BALLOON:
        if (spec && *spec) {
            snprintf(err, errlen, "%s takes no options (got '%s')", devcfg_opt(kind), spec);
            return -1;
        }
        return 0;
    case DEVCFG_NKINDS: break;
    }
    snprintf(err, errlen, "unknown kind of device");
    return -1;
}

int devcfg_check(enum devcfg_kind kind, const char *spec, char *err, size_t errlen)
{
    struct dev_cfg *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int r = devcfg_parse(kind, spec, c, err, errlen);
    free(c);
    return r;
}
