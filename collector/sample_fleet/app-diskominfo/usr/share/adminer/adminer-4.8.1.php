<?php
/** Adminer - Compact database management */
