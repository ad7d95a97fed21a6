/* version.h -- the one place the version lives. */
#ifndef BR_VERSION_H
#define BR_VERSION_H
#define BRASA_VERSION "0.1.0"
#endif
