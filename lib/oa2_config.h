#ifndef OA2_config_H
#define OA2_config_H
#endif
