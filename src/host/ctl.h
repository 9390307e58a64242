/* The CLI on top of the management API: vmon create, start, pause, resume,
 * shutdown, stop, reboot, rm, list, show, logs, console, snapshot, restore,
 * migrate and receive talk HTTP to the service
 * (--socket PATH, else $VMON_SOCKET, else the default socket). */
#ifndef VMON_CTL_H
#define VMON_CTL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;
struct vm_def;

int ctl_create(int argc, char **argv);
void ctl_create_usage(FILE *out);
int ctl_action(int argc, char **argv); /* argv[0] names the command */
void ctl_action_usage(FILE *out);
int ctl_list(int argc, char **argv);
int ctl_set(int argc, char **argv);
void ctl_set_usage(FILE *out);
int ctl_resize(int argc, char **argv);
void ctl_resize_usage(FILE *out);
void ctl_list_usage(FILE *out);

/* client.c: one HTTP/1.1 request over the unix socket. */
struct http_reply {
    int status;
    char *data;       /* the whole response, NUL-terminated */
    const char *body; /* into data */
    size_t body_len;
};
int http_request(const char *socket_path, const char *method, const char *path, const char *body,
                 struct http_reply *out, char *err, size_t errlen);
void http_reply_free(struct http_reply *r);
/* GET path asking to upgrade the connection to protocol: 0 with the
 * connection in *fd_out (status 101), else -1 with err set, or 0 with the
 * service's answer in out (status >= 400; the caller frees it). */
int http_upgrade(const char *socket_path, const char *path, const char *protocol, int *fd_out,
                 struct http_reply *out, char *err, size_t errlen);

/* ctl.c, for the other commands: the socket to use (--socket's value,
 * $VMON_SOCKET, the default), NAME and --socket parsing (CLI_OK,
 * CLI_USAGE, or -1 after --help), and the service's error printed. */
struct cli_opt;
extern const struct cli_opt ctl_socket_opt;
void ctl_socket_path(const char *given, char *buf, size_t size);
int ctl_parse_name(const char *cmd, int argc, char **argv, const char **name, const char **sock,
                   void (*usage)(FILE *), int need_name);
int ctl_service_error(const char *cmd, const struct http_reply *r);
/* One request: CLI_OK with the reply in out (the caller frees it), or the
 * error printed ("vmon CMD: ...") and CLI_ERROR. */
int ctl_call(const char *cmd, const char *sock, const char *method, const char *path,
             const char *body, struct http_reply *out);
/* A field of the service's JSON answer: its number (0 if absent), its
 * string ("" if absent). */
double ctl_json_num(struct json_object *o, const char *key);
const char *ctl_json_str(struct json_object *o, const char *key);
/* Prefix a relative path with the working directory (commas doubled, as
 * device options read them); a definition's paths so (the service runs
 * elsewhere). 0, or -1 if getcwd fails. */
int ctl_absolutize(char **s, int device_option);
int ctl_absolutize_def(struct vm_def *d);
/* A migration address "unix:REL" made "unix:/CWD/REL"; others as they are. */
int ctl_absolutize_addr(char **addr);
/* A VM name from a file's name: its base name without the extension, other
 * characters than a name's as '-' ("my vm.snap" gives my-vm); def if none. */
void ctl_name_from_file(const char *file, const char *def, char *name, size_t size);
/* The definition as PUT /v1/vms/NAME takes it, with only the settings
 * whose bit (1 << index in vmdef_fields) is in given: the service's
 * defaults are the same, and a restored VM takes its machine's. */
struct json_object *ctl_def_json(const struct vm_def *d, uint64_t given);

/* snapctl.c: vmon snapshot NAME FILE, vmon restore FILE [NAME]. */
int ctl_snapshot(int argc, char **argv);
void ctl_snapshot_usage(FILE *out);
int ctl_restore(int argc, char **argv);
void ctl_restore_usage(FILE *out);

/* migctl.c: vmon migrate NAME --to ADDR, vmon receive --listen ADDR [NAME]. */
int ctl_migrate(int argc, char **argv);
void ctl_migrate_usage(FILE *out);
int ctl_receive(int argc, char **argv);
void ctl_receive_usage(FILE *out);

/* top.c: vmon top. */
int ctl_top(int argc, char **argv);
void ctl_top_usage(FILE *out);

/* attach.c: vmon console NAME. */
int ctl_console(int argc, char **argv);
void ctl_console_usage(FILE *out);
#endif
