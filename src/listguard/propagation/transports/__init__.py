"""The ways to reach a partner: ``webhook``, ``email_digest``, ``file_drop``, all behind
the one interface of ``base``; ``routing`` decides which serves a partner."""
