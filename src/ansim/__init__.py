"""ansim: silent-SOS and police dispatch platform."""
