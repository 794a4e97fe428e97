"""File formats in and out: sequences, MEME, k2p-1.0 matrices, text written atomically.

- :mod:`.sequences`: one-hot sequences in every form (HDF5, ``.npy``, FASTA, arrays, batches, datasets);
- :mod:`.source`: ``SequenceSource``, what every sequence reader offers;
- :mod:`.fasta`: FASTA and FASTA.gz from a file or a stream (standard input, a FIFO), bounded;
- :mod:`.labels`: the sequences' labels from a file of their own (a table keyed by FASTA record id);
- :mod:`.meme`: MEME motif files;
- :mod:`.matrices`: k2p-1.0's kernel text matrices and HDF5 tensors;
- :mod:`.formats`: what a file is, from its first bytes; pipes and devices told from regular files;
- :mod:`.guard`: an untrusted HDF5 file or ``.keras`` zip walked by a child process, on time, first;
- :mod:`.hdf5_probe`: that child's walk (h5py only);
- :mod:`.text`: whole text files, atomic writes, tab-separated summaries (written and read);
- :mod:`.callback_folder`: the folder PWMCallback writes (``epoch_NNNN.meme``, ``summary.tsv``), read back.
"""
