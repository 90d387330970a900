"""Dataset quality: automatic scores on 完整性 / 及时性 / 准确性 and users' ratings."""
