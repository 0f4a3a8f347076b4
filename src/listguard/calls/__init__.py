"""Call rules on the partner side: when a number may be called (``calendar``), whether
it may be called now with every reason (``check``), and the partner's call log
(``log``)."""
