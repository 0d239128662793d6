<?php require __DIR__ . '/wp-blog-header.php';
