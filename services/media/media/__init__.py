"""RealtyForYou media: the live video call of a tour, on Amazon Chime SDK."""
