/* closed */
int before;
/* this comment never ends
int after;
/* neither does this one
