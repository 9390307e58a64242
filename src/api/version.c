/* GET /v1/version: vmon's version and the API's. */
#include "api/api.h"
#include <json-c/json.h>

#ifndef VMON_VERSION
#define VMON_VERSION "unknown"
#endif

int api_version_get(struct api_req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(VMON_VERSION));
    json_object_object_add(o, "api", json_object_new_string("v1"));
    return api_reply_json(r, 200, o);
}
