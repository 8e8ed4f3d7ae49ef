"""Storage: the data directory and everything that writes into it or deletes from it.

- ``paths``: where each file lives, crash-safe commit (tmp + fsync + rename + dir fsync);
- ``disk``: free space, day directories, listings, the space check before a write;
- ``stills``: snapshot and thumbnail paths, atomic writes;
- ``plan``: what retention deletes, in which order (pure); ``query``: the index reads for it;
- ``delete``: the one owner of deletion (rows and files, crash-safe, under the storage lock);
- ``reclaim``: carrying out deletions, and freeing space before a write (``ensure_space``);
- ``figures``: the storage figures and counters written to Redis for the API and notifier.
"""
