#ifndef OA2_http_H
#define OA2_http_H
#endif
