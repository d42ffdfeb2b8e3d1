#ifndef OA2_provider_H
#define OA2_provider_H
#endif
