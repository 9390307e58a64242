/* The CLI on top of the management API: vmon create, start, pause, resume,
 * shutdown, stop, reboot, rm, list, show and logs talk HTTP to the service
 * (--socket PATH, else $VMON_SOCKET, else the default socket). */
#ifndef VMON_CTL_H
#define VMON_CTL_H
#include <stddef.h>
#include <stdio.h>

int ctl_create(int argc, char **argv);
void ctl_create_usage(FILE *out);
int ctl_action(int argc, char **argv); /* argv[0] names the command */
void ctl_action_usage(FILE *out);
int ctl_list(int argc, char **argv);
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
#endif
