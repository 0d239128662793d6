<?php
namespace PhpMyAdmin;
final class Version
{
    public const VERSION = '5.2.1deb1';
}
