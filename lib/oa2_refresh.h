#ifndef OA2_refresh_H
#define OA2_refresh_H
#endif
